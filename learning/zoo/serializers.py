"""Input and output serializers of the zoo API."""

from __future__ import annotations

from rest_framework import serializers

from learning.zoo.models import Visibility, ZooEntry


class ZooEntrySerializer(serializers.ModelSerializer):
    published_by = serializers.CharField(source="published_by.username", default=None,
                                         read_only=True)
    source_project = serializers.IntegerField(source="source_version.project_id", default=None,
                                              read_only=True)
    projects = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = ZooEntry
        fields = ["id", "name", "species", "camera_view", "bodyparts", "skeleton", "pairs",
                  "n_labels", "test_rmse_px", "notes", "licence", "model_config",
                  "checkpoint_sha256", "source", "source_version", "source_project",
                  "published_by", "created_at", "visibility", "projects"]
        read_only_fields = fields


class PublishSerializer(serializers.Serializer):
    """Publish a ready model version (by id) of a project where you are PI."""

    version = serializers.IntegerField(help_text="Model version id.")
    name = serializers.CharField(max_length=120)
    species = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    camera_view = serializers.CharField(max_length=80, required=False, allow_blank=True,
                                        default="")
    licence = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                    default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.SITE)
    projects = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     default=list, help_text="For visibility 'projects'.")


class ImportSerializer(serializers.Serializer):
    """A bundle zip (multipart) exported by a PoseLoop server."""

    bundle = serializers.FileField()
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.SITE)
    projects = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     default=list)


class AdoptSerializer(serializers.Serializer):
    """Exactly one of zoo_entry / version; mapping edits the by-name body part mapping."""

    zoo_entry = serializers.IntegerField(required=False)
    version = serializers.IntegerField(required=False, help_text="A ready model version id of "
                                                                 "a project you belong to.")
    mapping = serializers.DictField(child=serializers.CharField(allow_null=True),
                                    required=False,
                                    help_text="{target body part: source body part or null}.")

    def validate(self, attrs: dict) -> dict:
        if ("zoo_entry" in attrs) == ("version" in attrs):
            raise serializers.ValidationError("Give exactly one of zoo_entry and version.")
        return attrs


class StartProjectSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)


class AnalyseSerializer(serializers.Serializer):
    """Adopt the entry into the video's project (PI) and analyse the video with it."""

    project = serializers.IntegerField()
    video = serializers.IntegerField()
