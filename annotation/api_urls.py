"""API routes under /api/projects/<project_id>/ (docs/annotation-api-contract.md)."""

from django.urls import path

from annotation import api_labels, api_queue, api_review

urlpatterns = [
    path("queue/", api_queue.QueueApi.as_view(), name="queue"),
    path("queue/next/", api_queue.LeaseNextApi.as_view(), name="queue-next"),
    path("queue/clear/", api_queue.QueueClearApi.as_view(), name="queue-clear"),
    path("queue/<int:entry_id>/", api_queue.QueueEntryApi.as_view(), name="queue-entry"),
    path("queue/<int:entry_id>/skip/", api_queue.SkipApi.as_view(), name="queue-skip"),
    path("queue/<int:entry_id>/flag/", api_queue.FlagApi.as_view(), name="queue-flag"),
    path("queue/<int:entry_id>/release/", api_queue.ReleaseApi.as_view(), name="queue-release"),
    path("frames/<int:frame_id>/label/", api_labels.FrameLabelApi.as_view(), name="frame-label"),
    path("labels/", api_labels.LabelListApi.as_view(), name="labels"),
    path("labels/<int:label_id>/history/", api_labels.LabelHistoryApi.as_view(),
         name="label-history"),
    path("labels/<int:label_id>/review/", api_review.ReviewLabelApi.as_view(),
         name="label-review"),
    path("annotation/progress/", api_labels.ProgressApi.as_view(), name="annotation-progress"),
    path("review/next/", api_review.ReviewNextApi.as_view(), name="review-next"),
    path("agreement/", api_review.AgreementApi.as_view(), name="agreement"),
]
