"""API throttles: the token endpoint is rate limited (password guessing over the API)."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import AnonRateThrottle


class TokenObtainThrottle(AnonRateThrottle):
    """Rate `token` (settings DEFAULT_THROTTLE_RATES) per client address.

    Counts live in Django's cache: per process with the default local-memory cache, shared
    between processes once CACHES points at Redis.
    """

    scope = "token"

    def get_cache_key(self, request, view):  # noqa: ANN001 - DRF's signature
        # AnonRateThrottle skips authenticated requests; a login attempt is counted anyway.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledObtainAuthToken(ObtainAuthToken):
    """DRF's token view (which turns throttling off) with the token throttle on.

    Django-axes still applies: a locked-out username gets no token, even with the right
    password.
    """

    throttle_classes = [TokenObtainThrottle]


obtain_auth_token = ThrottledObtainAuthToken.as_view()
