"""Every API error is ``{"error": "<words a person understands>"}``: never an HTML page, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from common.api_inputs import excerpt

# The body of every error answer, for the OpenAPI schema: ``@extend_schema(responses={400: ERROR, ...})``.
ERROR = inline_serializer("Error", fields={"error": serializers.CharField()})

MESSAGE_CHARS = 400  # of a whole error message, however many fields it names


class ServiceUnavailable(RuntimeError):
    """A service the request needs (model registry, image store) is down; the message is meant for a person."""


def error(message: str, code: int) -> Response:
    """An error answer from a view: ``message`` is for a person."""
    return Response({"error": _bounded(message)}, status=code)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 (``handler404``): an unknown ``/api/…`` path answers in the API's shape, a page as a page."""
    if request.path.startswith("/api/"):
        message = f"There is no API endpoint at {excerpt(request.path, 60)}; the endpoints are listed at /api/docs/."
        return JsonResponse({"error": _bounded(message)}, status=404)
    return page_not_found(request, exception)


def error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceUnavailable):
        response = error(str(exc), 503)
        response["Retry-After"] = "30"
        return response
    if isinstance(exc, SuspiciousOperation):
        return _refused(exc, context)
    if isinstance(exc, exceptions.ParseError):
        return error(f"The request body could not be read: {excerpt(str(exc.detail), 120)}", exc.status_code)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        content_type = getattr(context.get("request"), "content_type", "")
        return error(f'Unsupported media type "{excerpt(content_type)}" in request.', exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {"error": _bounded(_message(response.data))}
    return response


def _refused(exc: SuspiciousOperation, context: dict[str, Any]) -> Response:
    """Django's refusals of an oversized or odd request body, answered as JSON and logged without a traceback."""
    # Django's own logger name, so security monitoring still sees it; a warning, as the request is answered.
    security_logger = logging.getLogger(f"django.security.{type(exc).__name__}")
    security_logger.warning("Refused %s: %s", getattr(context.get("request"), "path", "a request"), exc)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        return error(f"The request is too large: at most {_size(limit)} of form or JSON data.", 413)
    if isinstance(exc, TooManyFieldsSent):
        return error(f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.", 400)
    if isinstance(exc, TooManyFilesSent):
        return error(f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files.", 400)
    return error("The request could not be read.", 400)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.0f} MB" if n_bytes >= 1024 * 1024 else f"{n_bytes} bytes"


def _message(data: Any) -> str:
    if isinstance(data, dict):
        if "detail" in data:
            return str(data["detail"])
        return "; ".join(
            _message(value) if field == api_settings.NON_FIELD_ERRORS_KEY else f"{field}: {_message(value)}"
            for field, value in data.items()
        )
    if isinstance(data, list):
        return " ".join(_message(item) for item in data)
    return str(data)


def _bounded(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 1] + "…"
