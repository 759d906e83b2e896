"""Review endpoints (reviewers and PIs): next label to review, decisions, agreement."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import REVIEWERS
from annotation.agreement import project_agreement
from annotation.api_base import AnnotationScopedMixin
from annotation.review import next_for_review, other_labels, review_label
from annotation.serializers import (
    AgreementSerializer,
    ConflictSerializer,
    LabelOutSerializer,
    ReviewInSerializer,
    ReviewNextOutSerializer,
)


class ReviewNextApi(AnnotationScopedMixin, APIView):
    """The next label of someone else to review (likely label errors first, then the oldest
    submitted), with the frame's other labels; 204 if none."""

    write_roles = REVIEWERS

    @extend_schema(request=None, responses={200: ReviewNextOutSerializer,
                                            204: OpenApiResponse(description="Nothing to review.")})
    def post(self, request: Request, project_id: int) -> Response:
        label = next_for_review(self.get_project(), request.user)
        if label is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = {"label": label, "frame": label.frame, "others": other_labels(label),
                "suspect": label.suspect}
        return Response(ReviewNextOutSerializer(body).data)


class ReviewLabelApi(AnnotationScopedMixin, APIView):
    """Accept, correct (with points) or reject (with a note) a label."""

    write_roles = REVIEWERS

    @extend_schema(request=ReviewInSerializer,
                   responses={200: LabelOutSerializer, 409: ConflictSerializer})
    def post(self, request: Request, project_id: int, label_id: int) -> Response:
        data = ReviewInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        label = review_label(self.get_project(), label_id, request.user, v["decision"],
                             note=v["note"], points=v["points"])
        return Response(LabelOutSerializer({"label": label}).data)


class AgreementApi(AnnotationScopedMixin, APIView):
    """Per body part: mean pixel distance between annotators on double-labeled frames."""

    read_roles = REVIEWERS

    @extend_schema(responses=AgreementSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(AgreementSerializer(project_agreement(self.get_project())).data)
