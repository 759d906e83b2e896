from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from cameras.models import Calibration, Rig, Session, SessionView, Triangulation


class CalibrationSerializer(serializers.ModelSerializer):
    toml_url = serializers.SerializerMethodField()
    images = serializers.SerializerMethodField()

    class Meta:
        model = Calibration
        fields = ["id", "status", "source", "message", "board", "cameras", "reprojection_px",
                  "job", "created_at", "toml_url", "images"]

    def _route(self, cal: Calibration) -> dict:
        return {"project_id": cal.rig.project_id, "rig_id": cal.rig_id, "calibration_id": cal.pk}

    def get_toml_url(self, cal: Calibration) -> str | None:
        if cal.status != "ready":
            return None
        return reverse("api:calibration-toml", kwargs=self._route(cal))

    def get_images(self, cal: Calibration) -> dict[str, str]:
        return {camera: reverse("api:calibration-image", kwargs={**self._route(cal),
                                                                 "camera": camera})
                for camera in cal.files if camera != "toml"}


class RigSerializer(serializers.ModelSerializer):
    calibration = serializers.SerializerMethodField()

    class Meta:
        model = Rig
        fields = ["id", "name", "cameras", "board", "created_at", "calibration"]

    def get_calibration(self, rig: Rig) -> dict | None:
        current = rig.current_calibration()
        return None if current is None else CalibrationSerializer(current).data


class RigCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    cameras = serializers.ListField(child=serializers.CharField(max_length=60), min_length=2)
    board = serializers.DictField(required=False, help_text="Board fields (anipose names).")
    board_toml = serializers.CharField(required=False, allow_blank=True,
                                       help_text="Or the board as board.toml text.")


class RigBoardSerializer(serializers.Serializer):
    board = serializers.DictField(required=False)
    board_toml = serializers.CharField(required=False, allow_blank=True)


class CalibrateSerializer(serializers.Serializer):
    """Multipart: one video file per camera, the field named like the camera."""

    offsets = serializers.JSONField(required=False, help_text='{"camera": frames}')


class FileUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class SessionViewSerializer(serializers.ModelSerializer):
    video_name = serializers.CharField(source="video.name", read_only=True)
    frame_count = serializers.IntegerField(source="video.frame_count", read_only=True)
    has_poses = serializers.SerializerMethodField()

    class Meta:
        model = SessionView
        fields = ["camera", "video", "video_name", "frame_count", "offset", "has_poses"]

    def get_has_poses(self, view: SessionView) -> bool:
        return bool(view.poses)


class TriangulationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="job.status", read_only=True, default=None)
    downloads = serializers.SerializerMethodField()
    points_url = serializers.SerializerMethodField()

    class Meta:
        model = Triangulation
        fields = ["id", "calibration", "job", "status", "options", "sources", "bodyparts",
                  "frames", "reprojection_px", "downloads", "points_url", "created_at"]

    def _route(self, tri: Triangulation) -> dict:
        return {"project_id": tri.session.project_id, "session_id": tri.session_id,
                "triangulation_id": tri.pk}

    def get_downloads(self, tri: Triangulation) -> dict[str, str]:
        return {name.rsplit("/", 1)[-1]: reverse("api:triangulation-file", kwargs={
            **self._route(tri), "filename": name.rsplit("/", 1)[-1]}) for name in tri.files}

    def get_points_url(self, tri: Triangulation) -> str | None:
        if not tri.files:
            return None
        return reverse("api:triangulation-points", kwargs=self._route(tri))


class SessionSerializer(serializers.ModelSerializer):
    views = SessionViewSerializer(many=True, read_only=True)
    rig_name = serializers.CharField(source="rig.name", read_only=True)
    triangulations = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = ["id", "name", "rig", "rig_name", "frame_count", "views", "created_at",
                  "triangulations"]

    def get_triangulations(self, session: Session) -> list[dict]:
        return TriangulationSerializer(session.triangulations.select_related("job")[:5],
                                       many=True).data


class SessionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    rig = serializers.IntegerField()
    views = serializers.DictField(child=serializers.IntegerField(),
                                  help_text='{"camera": video id}')
    offsets = serializers.DictField(child=serializers.IntegerField(min_value=0), required=False)
    trim = serializers.BooleanField(default=False)


class AnalyzeViewsSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, allow_null=True)


class TriangulateSerializer(serializers.Serializer):
    smooth = serializers.FloatField(default=0.0, min_value=0.0, max_value=100.0)
    bones = serializers.FloatField(default=0.0, min_value=0.0, max_value=100.0)
    videos = serializers.BooleanField(default=False,
                                      help_text="Also render each view with the 3D skeleton.")
