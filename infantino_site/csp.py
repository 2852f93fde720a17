"""Content-Security-Policy on every response: scripts, styles, images and connections from this site only."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"

# No 'unsafe-inline' and no 'unsafe-eval': the templates carry no inline script, style or event handler (they
# live in static/), and data reaches scripts through data-* attributes or json_script (JSON, never executed).
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],  # data: for the icons in Swagger UI's stylesheet (/api/docs/)
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


@functools.cache
def image_origin() -> str | None:
    """Where pages' photos come from when they are presigned URLs of the private bucket, not this site."""
    if settings.SERVE_MEDIA:
        return None
    url = urlsplit(default_storage.url("uploads/csp.jpg"))  # signed locally: no request to S3
    return f"{url.scheme}://{url.netloc}"


def websocket_origin(request: HttpRequest) -> str | None:
    """This host's ws:/wss: origin: CSP 3 lets 'self' cover it, browsers that predate it need it spelled out."""
    try:
        host = request.get_host()
    except DisallowedHost:  # the response is the 400 for that host: it opens no socket
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


def policy_for(request: HttpRequest) -> str:
    directives = {name: list(sources) for name, sources in POLICY.items()}
    if origin := image_origin():
        directives["img-src"].append(origin)
        directives["media-src"] = ["'self'", origin]  # clips play from the same private bucket, presigned
    if origin := websocket_origin(request):
        directives["connect-src"].append(origin)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Sets the policy on every response that has none of its own."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if HEADER not in response:
            response[HEADER] = policy_for(request)
        return response
