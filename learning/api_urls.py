"""API routes under /api/projects/<project_id>/."""

from django.urls import path

from learning import api, api_datasets
from learning.zoo import api as zoo_api

urlpatterns = [
    path("models/", api.ModelListApi.as_view(), name="models"),
    path("models/current/", api.CurrentModelApi.as_view(), name="model-current"),
    path("models/adopt/", zoo_api.AdoptApi.as_view(), name="model-adopt"),
    path("models/train/", api.TrainApi.as_view(), name="model-train"),
    path("models/<int:version_id>/", api.ModelDetailApi.as_view(), name="model"),
    path("models/<int:version_id>/cancel/", api.CancelApi.as_view(), name="model-cancel"),
    path("models/<int:version_id>/distill/", api.DistillApi.as_view(), name="model-distill"),
    path("models/<int:version_id>/activate/", api.ActivateApi.as_view(), name="model-activate"),
    path("models/<int:version_id>/images/<int:n>/", api.EvalImageApi.as_view(),
         name="model-image"),
    path("frames/<int:frame_id>/prediction/", api.FramePredictionApi.as_view(),
         name="frame-prediction"),
    # Dataset exports (learning/api_datasets.py).
    path("exports/dataset/", api_datasets.DatasetExportApi.as_view(), name="dataset-export"),
    path("exports/<str:name>/download/", api_datasets.ExportDownloadApi.as_view(),
         name="dataset-export-download"),
]

# Video analysis and model bundles (learning/api_analysis.py).
from learning import api_analysis  # noqa: E402

urlpatterns += [
    path("videos/<int:video_id>/analyze/", api_analysis.AnalyzeVideoApi.as_view(),
         name="video-analyze"),
    path("videos/<int:video_id>/analyses/", api_analysis.AnalysisListApi.as_view(),
         name="video-analyses"),
    path("videos/<int:video_id>/analyses/<int:analysis_id>/download/<str:filename>",
         api_analysis.AnalysisDownloadApi.as_view(), name="video-analysis-download"),
    path("videos/<int:video_id>/analyses/<int:analysis_id>/swap-tracks/",
         api_analysis.SwapTracksApi.as_view(), name="video-analysis-swap-tracks"),
    path("videos/<int:video_id>/analyses/<int:analysis_id>/frames/<int:index>/",
         api_analysis.AnalysisFrameApi.as_view(), name="video-analysis-frame"),
    path("models/<int:version_id>/export/", api_analysis.ModelExportApi.as_view(),
         name="model-export"),
]
