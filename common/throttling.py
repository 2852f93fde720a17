"""API throttles that read their rates at request time and stay out of the way when the cache is down."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, ScopedRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _SettingsRates:
    """DRF binds its rates at import; these follow the settings, so an operator or a test can change them."""

    def get_rate(self: Any) -> str | None:
        if not settings.INFANTINO_THROTTLE:
            return None
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)

    def allow_request(self: Any, request: Any, view: Any) -> bool:
        # A Redis outage must not take the API down with it: count nothing rather than refuse everything.
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except Exception:
            logger.warning("throttle cache unavailable: %s is not rate-limited meanwhile", self.scope, exc_info=True)
            return True


class AnonThrottle(_SettingsRates, AnonRateThrottle):
    pass


class UserThrottle(_SettingsRates, UserRateThrottle):
    pass


class ScopeThrottle(_SettingsRates, ScopedRateThrottle):
    pass


def rate_exceeded(request: Any, *, scope: str) -> float | None:
    """For pages outside DRF: None when ``request`` may go on, else the seconds to wait."""

    class _View:
        throttle_scope = scope

    throttle = ScopeThrottle()
    if throttle.allow_request(request, _View()):
        return None
    return throttle.wait() or 1.0


def client_ident(request: Any) -> str | None:
    """The client address every throttle counts by: REMOTE_ADDR, or X-Forwarded-For read NUM_PROXIES hops deep."""
    return BaseThrottle().get_ident(request)
