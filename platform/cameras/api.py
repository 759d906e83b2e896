"""REST endpoints for rigs, calibrations, sessions and 3D triangulations (thin: parse,
authorize, call a function in `cameras.rigs` / `cameras.sessions`, shape the answer).

PIs change things; PIs and reviewers read. Django ValidationErrors become 400s with the
service's message (poseloop.api_errors)."""

from __future__ import annotations

import json
import mimetypes

import numpy as np
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import REVIEWERS
from accounts.api_permissions import ProjectScopedMixin
from accounts.models import Role
from cameras import rigs, sessions
from cameras.models import Calibration, Rig, Session, Triangulation
from cameras.serializers import (
    AnalyzeViewsSerializer,
    CalibrateSerializer,
    CalibrationSerializer,
    FileUploadSerializer,
    RigBoardSerializer,
    RigCreateSerializer,
    RigSerializer,
    SessionCreateSerializer,
    SessionSerializer,
    TriangulateSerializer,
    TriangulationSerializer,
)
from jobs.serializers import JobSerializer
from videos.uploads import over_limit_message, over_upload_limit

MAX_POINT_FRAMES = 5000


class _Scoped(ProjectScopedMixin, APIView):
    read_roles = REVIEWERS
    write_roles = (Role.PI,)

    def get_rig(self, rig_id: int) -> Rig:
        return get_object_or_404(Rig, pk=rig_id, project=self.get_project())

    def get_session(self, session_id: int) -> Session:
        return get_object_or_404(Session.objects.select_related("rig"), pk=session_id,
                                 project=self.get_project())


def _board_input(data: dict) -> dict | str | None:
    return data.get("board_toml") or data.get("board") or None


def _too_large() -> Response:
    return Response({"detail": over_limit_message()},
                    status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


class RigListApi(_Scoped):
    """The project's camera rigs; the PI creates one (cameras + calibration board)."""

    @extend_schema(responses=RigSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        found = Rig.objects.filter(project=self.get_project())
        return Response(RigSerializer(found, many=True).data)

    @extend_schema(request=RigCreateSerializer, responses={201: RigSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        data = RigCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rig = rigs.create_rig(self.get_project(), data.validated_data["name"],
                              data.validated_data["cameras"], _board_input(data.validated_data),
                              user=request.user)
        return Response(RigSerializer(rig).data, status=status.HTTP_201_CREATED)


class RigDetailApi(_Scoped):
    """A rig with its current calibration; PUT sets its board."""

    @extend_schema(responses=RigSerializer)
    def get(self, request: Request, project_id: int, rig_id: int) -> Response:
        return Response(RigSerializer(self.get_rig(rig_id)).data)

    @extend_schema(request=RigBoardSerializer, responses=RigSerializer)
    def put(self, request: Request, project_id: int, rig_id: int) -> Response:
        rig = self.get_rig(rig_id)
        data = RigBoardSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        board = _board_input(data.validated_data)
        if board is None:
            raise ValidationError("Give the board as `board` fields or `board_toml` text.")
        rig.board = rigs.parse_board(board)
        rig.save(update_fields=["board"])
        return Response(RigSerializer(rig).data)


class CalibrationListApi(_Scoped):
    """A rig's calibrations, newest first; POST (multipart, one video per camera, each field
    named like its camera, optional `offsets` JSON) queues a calibration."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=CalibrationSerializer(many=True))
    def get(self, request: Request, project_id: int, rig_id: int) -> Response:
        rig = self.get_rig(rig_id)
        return Response(CalibrationSerializer(rig.calibrations.all(), many=True).data)

    @extend_schema(request={"multipart/form-data": CalibrateSerializer},
                   responses={202: JobSerializer})
    def post(self, request: Request, project_id: int, rig_id: int) -> Response:
        if over_upload_limit(request._request):
            return _too_large()
        rig = self.get_rig(rig_id)
        offsets = request.data.get("offsets") or {}
        if isinstance(offsets, str):
            try:
                offsets = json.loads(offsets)
            except json.JSONDecodeError:
                raise ValidationError("offsets must be JSON: {\"camera\": frames}.") from None
        if not isinstance(offsets, dict) or not all(
                isinstance(v, int) and v >= 0 for v in offsets.values()):
            raise ValidationError("offsets must map camera names to frame counts >= 0.")
        if over_upload_limit(request._request):
            return _too_large()
        calibration, job = rigs.start_calibration(rig, dict(request.FILES.items()),
                                                  offsets=offsets, user=request.user)
        return Response({"calibration": CalibrationSerializer(calibration).data,
                         "job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


class CalibrationImportApi(_Scoped):
    """Import anipose's calibration.toml (multipart `file`) as a ready calibration."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": FileUploadSerializer},
                   responses={201: CalibrationSerializer})
    def post(self, request: Request, project_id: int, rig_id: int) -> Response:
        rig = self.get_rig(rig_id)
        data = FileUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        calibration = rigs.import_calibration(rig, data.validated_data["file"], request.user)
        return Response(CalibrationSerializer(calibration).data, status=status.HTTP_201_CREATED)


class _CalibrationScoped(_Scoped):
    def get_calibration(self, rig_id: int, calibration_id: int) -> Calibration:
        return get_object_or_404(Calibration.objects.select_related("rig"), pk=calibration_id,
                                 rig=self.get_rig(rig_id))


class CalibrationDetailApi(_CalibrationScoped):
    @extend_schema(responses=CalibrationSerializer)
    def get(self, request: Request, project_id: int, rig_id: int,
            calibration_id: int) -> Response:
        return Response(CalibrationSerializer(self.get_calibration(rig_id, calibration_id)).data)


class CalibrationTomlApi(_CalibrationScoped):
    """A ready calibration as anipose's calibration.toml."""

    @extend_schema(responses={(200, "application/toml"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, rig_id: int,
            calibration_id: int) -> HttpResponse:
        calibration = self.get_calibration(rig_id, calibration_id)
        if calibration.status != "ready":
            raise Http404("The calibration is not ready.")
        response = HttpResponse(rigs.calibration_toml(calibration), content_type="application/toml")
        response["Content-Disposition"] = (
            f'attachment; filename="calibration-{calibration.rig.name}-{calibration.pk}.toml"')
        return response


class CalibrationImageApi(_CalibrationScoped):
    """A camera's diagnostic image: detected (green) and reprojected (red) board corners."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, rig_id: int, calibration_id: int,
            camera: str) -> FileResponse:
        calibration = self.get_calibration(rig_id, calibration_id)
        name = calibration.files.get(camera) if camera != "toml" else None
        if not name or not default_storage.exists(name):
            raise Http404("No image for this camera.")
        return FileResponse(default_storage.open(name, "rb"), content_type="image/png")


class SessionListApi(_Scoped):
    """Multi-camera sessions; the PI creates one from the project's videos, one per camera."""

    parser_classes = [JSONParser]

    @extend_schema(responses=SessionSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        found = Session.objects.filter(project=self.get_project()).select_related("rig")
        return Response(SessionSerializer(found, many=True).data)

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        data = SessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        session = sessions.create_session(
            self.get_project(), self.get_rig(v["rig"]), v["name"], v["views"],
            offsets=v.get("offsets"), trim=v["trim"], user=request.user)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(_Scoped):
    @extend_schema(responses=SessionSerializer)
    def get(self, request: Request, project_id: int, session_id: int) -> Response:
        session = self.get_session(session_id)
        body = SessionSerializer(session).data
        body["pose_sources"] = sessions.pose_sources(session)
        return Response(body)


class SessionViewPosesApi(_Scoped):
    """Upload a view's 2D poses (multipart `file`: SLEAP .slp or a pose table .h5/.csv)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": FileUploadSerializer},
                   responses={200: SessionSerializer})
    def post(self, request: Request, project_id: int, session_id: int,
             camera: str) -> Response:
        if over_upload_limit(request._request):
            return _too_large()
        session = self.get_session(session_id)
        view = get_object_or_404(session.views, camera=camera)
        data = FileUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sessions.attach_poses(view, data.validated_data["file"])
        return Response(SessionSerializer(session).data)


class SessionAnalyzeApi(_Scoped):
    """Queue a 2D analysis of every view with one model (default: the project's)."""

    @extend_schema(request=AnalyzeViewsSerializer, responses={202: JobSerializer(many=True)})
    def post(self, request: Request, project_id: int, session_id: int) -> Response:
        data = AnalyzeViewsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        jobs = sessions.analyze_views(self.get_session(session_id),
                                      data.validated_data.get("version"), request.user)
        return Response(JobSerializer(jobs, many=True).data, status=status.HTTP_202_ACCEPTED)


class SessionTriangulateApi(_Scoped):
    """Queue the triangulation of the views' current 2D poses with the rig's calibration."""

    @extend_schema(request=TriangulateSerializer, responses={202: TriangulationSerializer})
    def post(self, request: Request, project_id: int, session_id: int) -> Response:
        data = TriangulateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tri, job = sessions.start_triangulation(self.get_session(session_id),
                                                **data.validated_data, user=request.user)
        return Response({"triangulation": TriangulationSerializer(tri).data,
                         "job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


class _TriangulationScoped(_Scoped):
    def get_triangulation(self, session_id: int, triangulation_id: int) -> Triangulation:
        return get_object_or_404(
            Triangulation.objects.select_related("session", "job", "calibration"),
            pk=triangulation_id, session=self.get_session(session_id))


class TriangulationDetailApi(_TriangulationScoped):
    @extend_schema(responses=TriangulationSerializer)
    def get(self, request: Request, project_id: int, session_id: int,
            triangulation_id: int) -> Response:
        return Response(TriangulationSerializer(
            self.get_triangulation(session_id, triangulation_id)).data)


class TriangulationPointsApi(_TriangulationScoped):
    """3D points for the viewer: {bodyparts, edges, start, step, points[f][k] = [x,y,z] or null}."""

    @extend_schema(parameters=[
        OpenApiParameter("start", int, required=False),
        OpenApiParameter("stop", int, required=False),
        OpenApiParameter("step", int, required=False)],
        responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int, session_id: int,
            triangulation_id: int) -> Response:
        tri = self.get_triangulation(session_id, triangulation_id)
        if not tri.files:
            raise Http404("The triangulation has not finished.")
        try:
            start = int(request.query_params.get("start", 0))
            stop = int(request.query_params.get("stop", tri.frames))
            step = int(request.query_params.get("step", 1))
        except ValueError:
            raise ValidationError("start, stop and step must be whole numbers.") from None
        if start < 0 or stop < start or step < 1 or (stop - start) // step > MAX_POINT_FRAMES:
            raise ValidationError(f"Need 0 <= start <= stop, step >= 1 and at most "
                                  f"{MAX_POINT_FRAMES} frames per request.")
        pts = sessions.points3d(tri)[start:stop:step]
        rounded = np.round(pts, 2)
        as_lists = [[None if not np.isfinite(p).all() else p.tolist() for p in frame]
                    for frame in rounded]
        return Response({"bodyparts": tri.bodyparts, "start": start, "step": step,
                         "edges": sessions.skeleton_edges(tri.session, tri.bodyparts),
                         "reprojection_px": tri.reprojection_px, "points": as_lists})


class TriangulationFileApi(_TriangulationScoped):
    """One file of a triangulation (3D tables, reprojection videos), streamed."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, session_id: int, triangulation_id: int,
            filename: str) -> FileResponse:
        tri = self.get_triangulation(session_id, triangulation_id)
        name = next((f for f in tri.files if f.rsplit("/", 1)[-1] == filename), None)
        if name is None:
            raise Http404("No such file.")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return FileResponse(default_storage.open(name, "rb"), as_attachment=True,
                            filename=filename, content_type=content_type)
