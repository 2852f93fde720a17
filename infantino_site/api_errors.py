"""Every API error is ``{"error": "<words a person understands>"}``."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler


class ServiceUnavailable(RuntimeError):
    """A service the request needs (model registry, image store) is down; the message is meant for a person."""


def error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceUnavailable):
        return Response({"error": str(exc)}, status=503, headers={"Retry-After": "30"})
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
