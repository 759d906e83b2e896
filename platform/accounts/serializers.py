"""API shapes for members and invitations."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Invitation, Membership, Role


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]


class MemberInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "url", "created_at", "expires_at", "accepted_at"]

    def get_url(self, invitation: Invitation) -> str:
        request = self.context.get("request")
        path = f"/accounts/invite/{invitation.token}/"
        return request.build_absolute_uri(path) if request else path


class InvitationInSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    email = serializers.EmailField(required=False, allow_blank=True)
