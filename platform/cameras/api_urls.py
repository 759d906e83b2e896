"""API routes under /api/projects/<project_id>/ (included by poseloop.api_urls)."""

from django.urls import path

from cameras import api, api_prefill

urlpatterns = [
    path("rigs/", api.RigListApi.as_view(), name="rigs"),
    path("rigs/<int:rig_id>/", api.RigDetailApi.as_view(), name="rig"),
    path("rigs/<int:rig_id>/calibrations/", api.CalibrationListApi.as_view(),
         name="calibrations"),
    path("rigs/<int:rig_id>/calibrations/import/", api.CalibrationImportApi.as_view(),
         name="calibration-import"),
    path("rigs/<int:rig_id>/calibrations/<int:calibration_id>/",
         api.CalibrationDetailApi.as_view(), name="calibration"),
    path("rigs/<int:rig_id>/calibrations/<int:calibration_id>/calibration.toml",
         api.CalibrationTomlApi.as_view(), name="calibration-toml"),
    path("rigs/<int:rig_id>/calibrations/<int:calibration_id>/images/<str:camera>.png",
         api.CalibrationImageApi.as_view(), name="calibration-image"),
    path("sessions/", api.SessionListApi.as_view(), name="sessions"),
    path("sessions/<int:session_id>/", api.SessionDetailApi.as_view(), name="session"),
    path("sessions/<int:session_id>/views/<str:camera>/poses/",
         api.SessionViewPosesApi.as_view(), name="session-view-poses"),
    path("sessions/<int:session_id>/analyze/", api.SessionAnalyzeApi.as_view(),
         name="session-analyze"),
    path("sessions/<int:session_id>/triangulate/", api.SessionTriangulateApi.as_view(),
         name="session-triangulate"),
    path("sessions/<int:session_id>/triangulations/<int:triangulation_id>/",
         api.TriangulationDetailApi.as_view(), name="triangulation"),
    path("sessions/<int:session_id>/triangulations/<int:triangulation_id>/points/",
         api.TriangulationPointsApi.as_view(), name="triangulation-points"),
    path("sessions/<int:session_id>/triangulations/<int:triangulation_id>/files/<str:filename>",
         api.TriangulationFileApi.as_view(), name="triangulation-file"),
    path("frames/<int:frame_id>/reprojection/", api_prefill.FrameReprojectionApi.as_view(),
         name="frame-reprojection"),
]
