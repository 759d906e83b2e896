"""All API routes: /api/…"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts_api
from dashboards import api as dashboards_api
from jobs import api as jobs_api
from learning import api_datasets
from poseloop import throttles
from projects import api as projects_api
from projects import api_deletion
from videos import api as videos_api

project_routes = [
    # GET/PATCH of ProjectDetailApi plus the confirmed soft DELETE.
    path("", api_deletion.ProjectApi.as_view(), name="project"),
    path("restore/", api_deletion.ProjectRestoreApi.as_view(), name="project-restore"),
    path("skeleton/", projects_api.SkeletonApi.as_view(), name="skeleton"),
    path("members/", accounts_api.MemberListApi.as_view(), name="members"),
    path("members/<int:member_id>/", accounts_api.MemberDetailApi.as_view(), name="member"),
    path("invitations/", accounts_api.InvitationListApi.as_view(), name="invitations"),
    path("videos/", videos_api.VideoListApi.as_view(), name="videos"),
    path("videos/<int:video_id>/", videos_api.VideoDetailApi.as_view(), name="video"),
    path("videos/<int:video_id>/extract/", videos_api.ExtractFramesApi.as_view(), name="extract"),
    path("frames/", videos_api.FrameListApi.as_view(), name="frames"),
    path("frames/<int:frame_id>/", videos_api.FrameDetailApi.as_view(), name="frame"),
    path("frames/<int:frame_id>/image/", videos_api.FrameImageApi.as_view(), name="frame-image"),
    path("jobs/", jobs_api.JobListApi.as_view(), name="jobs"),
    path("jobs/<int:job_id>/", jobs_api.JobDetailApi.as_view(), name="job"),
    path("jobs/<int:job_id>/cancel/", jobs_api.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<int:job_id>/retry/", jobs_api.JobRetryApi.as_view(), name="job-retry"),
    path("dashboard/", dashboards_api.DashboardApi.as_view(), name="dashboard"),
    path("", include("annotation.api_urls")),
    path("", include("learning.api_urls")),
    path("", include("cameras.api_urls")),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # DRF's token view with throttling on.
    path("auth/token/", throttles.obtain_auth_token, name="token-obtain"),
    path("me/token/", accounts_api.MyTokenApi.as_view(), name="my-token"),
    path("projects/", projects_api.ProjectListApi.as_view(), name="projects"),
    path("projects/import/dlc/", api_datasets.DlcImportApi.as_view(), name="import-dlc"),
    path("projects/<int:project_id>/", include(project_routes)),
    path("zoo/", include("learning.zoo.api_urls")),
]
