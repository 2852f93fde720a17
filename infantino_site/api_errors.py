"""Every API error is ``{"error": "<words a person understands>"}``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

# The body of every error answer, for the OpenAPI schema: ``@extend_schema(responses={400: ERROR, ...})``.
ERROR = inline_serializer("Error", fields={"error": serializers.CharField()})


class ServiceUnavailable(RuntimeError):
    """A service the request needs (model registry, image store) is down; the message is meant for a person."""


def error(message: str, code: int) -> Response:
    """An error answer from a view: ``message`` is for a person."""
    return Response({"error": message}, status=code)


def error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceUnavailable):
        response = error(str(exc), 503)
        response["Retry-After"] = "30"
        return response
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {"error": _message(response.data)}
    return response


def _message(data: Any) -> str:
    if isinstance(data, dict):
        if "detail" in data:
            return str(data["detail"])
        return "; ".join(f"{field}: {_message(value)}" for field, value in data.items())
    if isinstance(data, list):
        return " ".join(_message(item) for item in data)
    return str(data)
