"""Session authentication that asks for the CSRF token on every browser write, signed in or anonymous."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

# A browser sends at least one of these on every write, and a page on another site cannot take them away;
# curl, scripts and other API clients send none unless told to.
BROWSER_HEADERS = ("HTTP_SEC_FETCH_SITE", "HTTP_ORIGIN", "HTTP_REFERER")


def comes_from_a_browser(request: Request) -> bool:
    return any(header in request.META for header in BROWSER_HEADERS)


def sends_credentials(request: Request) -> bool:
    """HTTP Basic or an API token: a header the client sets itself, which no other site can make a browser send."""
    scheme = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower()
    return scheme in {"basic", "token"}


class CsrfSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, with the CSRF check extended to anonymous browser sessions.

    DRF checks the token only for a signed-in session, but an anonymous session owns photos too
    (``accounts.sessions``): a browser write without the token could delete them, or plant a photo in a
    visitor's session. A client that is no browser rides on no ambient credential (its cookie jar is its
    own), so ``curl -b jar``, Basic-auth and API-token clients need no CSRF token.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        signed_in = super().authenticate(request)  # checks the token itself for a signed-in session
        if signed_in is None and comes_from_a_browser(request) and not sends_credentials(request):
            self.enforce_csrf(request)  # writes only: Django's check passes GET, HEAD, OPTIONS and TRACE
        return signed_in


class CsrfSessionScheme(SessionScheme):
    """The OpenAPI schema describes it as the session cookie, like DRF's own class."""

    target_class = "infantino_site.authentication.CsrfSessionAuthentication"
