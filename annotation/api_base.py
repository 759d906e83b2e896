"""What every annotation API view shares: the project scope, 401 for anonymous, 409s."""

from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_permissions import ProjectScopedMixin
from annotation.errors import Conflict
from annotation.serializers import LabelSerializer


class AnnotationScopedMixin(ProjectScopedMixin):
    """ProjectScopedMixin, plus: anonymous requests get 401 (not 403), and service
    Conflicts become 409 `{"detail", "current": label or null}`."""

    def get_authenticate_header(self, request: Request) -> str:
        # Session auth comes first in settings and has no header, which DRF turns into 403.
        return super().get_authenticate_header(request) or "Token"  # type: ignore[misc]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Conflict):
            current = LabelSerializer(exc.current).data if exc.current is not None else None
            return Response({"detail": exc.detail, "current": current},
                            status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)  # type: ignore[misc]
