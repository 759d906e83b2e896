"""Pages under /projects/<project_id>/cameras/."""

from django.urls import path

from cameras import views

app_name = "cameras"

urlpatterns = [
    path("cameras/", views.cameras_page, name="index"),
    path("cameras/rigs/new/", views.create_rig_action, name="create-rig"),
    path("cameras/rigs/<int:rig_id>/", views.rig_page, name="rig"),
    path("cameras/rigs/<int:rig_id>/board/", views.rig_board_action, name="board"),
    path("cameras/rigs/<int:rig_id>/calibrate/", views.calibrate_action, name="calibrate"),
    path("cameras/rigs/<int:rig_id>/import/", views.import_calibration_action,
         name="import-calibration"),
    path("cameras/rigs/<int:rig_id>/sessions/new/", views.create_session_action,
         name="create-session"),
    path("cameras/sessions/<int:session_id>/", views.session_page, name="session"),
    path("cameras/sessions/<int:session_id>/views/<str:camera>/poses/",
         views.upload_poses_action, name="upload-poses"),
    path("cameras/sessions/<int:session_id>/analyze/", views.analyze_views_action,
         name="analyze"),
    path("cameras/sessions/<int:session_id>/triangulate/", views.triangulate_action,
         name="triangulate"),
]
