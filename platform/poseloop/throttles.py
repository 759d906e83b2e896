"""API throttles: only the token endpoint is rate limited (password guessing over the API)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class TokenObtainThrottle(SimpleRateThrottle):
    """Rate `token` per client address on POST /api/auth/token/; no limit on other views.

    Listed in DEFAULT_THROTTLE_CLASSES because the token view is DRF's own; it recognises that
    view by class name (importing DRF's views here would be circular: APIView reads this
    setting while its module loads). Counts live in Django's cache: per process with the
    default local-memory cache, shared between processes once CACHES points at Redis.
    """

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if type(view).__name__ != "ObtainAuthToken":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
