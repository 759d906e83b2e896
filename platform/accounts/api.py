"""REST endpoints for project members, invitations and API tokens."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES
from accounts.api_permissions import ProjectScopedMixin
from accounts.members import invite, remove_member, set_member
from accounts.models import Invitation, Membership, Role
from accounts.serializers import (
    InvitationInSerializer,
    InvitationSerializer,
    MemberInSerializer,
    MemberRoleSerializer,
    MemberSerializer,
)


class MemberListApi(ProjectScopedMixin, APIView):
    """Members of a project (any member reads); the PI adds people by username."""

    read_roles = ALL_ROLES

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        members = Membership.objects.filter(project=self.get_project()).select_related("user")
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(request=MemberInSerializer, responses={201: MemberSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        data = MemberInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = set_member(
            self.get_project(), data.validated_data["username"], Role(data.validated_data["role"])
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(ProjectScopedMixin, APIView):
    """Change a member's role or remove them (PI)."""

    read_roles = (Role.PI,)

    def _membership(self, member_id: int) -> Membership:
        return get_object_or_404(Membership, pk=member_id, project=self.get_project())

    @extend_schema(request=MemberRoleSerializer, responses=MemberSerializer)
    def patch(self, request: Request, project_id: int, member_id: int) -> Response:
        membership = self._membership(member_id)
        data = MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if membership.role == Role.PI and data.validated_data["role"] != Role.PI:
            remaining = Membership.objects.filter(project_id=project_id, role=Role.PI).count()
            if remaining <= 1:
                return Response({"detail": "A project keeps at least one PI."}, status=400)
        membership.role = data.validated_data["role"]
        membership.save(update_fields=["role"])
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, member_id: int) -> Response:
        remove_member(self._membership(member_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(ProjectScopedMixin, APIView):
    """Invitation links of a project (PI only)."""

    read_roles = (Role.PI,)

    @extend_schema(responses=InvitationSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        invitations = Invitation.objects.filter(project=self.get_project())
        return Response(
            InvitationSerializer(invitations, many=True, context={"request": request}).data
        )

    @extend_schema(request=InvitationInSerializer, responses={201: InvitationSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        data = InvitationInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = invite(
            self.get_project(),
            Role(data.validated_data["role"]),
            request.user,
            email=data.validated_data.get("email", ""),
        )
        return Response(
            InvitationSerializer(invitation, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class MyTokenApi(APIView):
    """Your API token: GET shows it (creating one), DELETE revokes it."""

    @extend_schema(responses=inline_serializer("Token", {"token": serializers.CharField()}))
    def get(self, request: Request) -> Response:
        token, _ = Token.objects.get_or_create(user=request.user)
        return Response({"token": token.key})

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
