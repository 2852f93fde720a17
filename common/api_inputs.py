"""Reading API input: parsers that keep Django's body limit, and serializers whose refusals quote only an excerpt."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

if TYPE_CHECKING:
    from rest_framework.request import Request

EXCERPT_CHARS = 40  # of a value the client sent, quoted back in an error


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, HTML-escaped excerpt of what a client sent, safe to quote back in an error."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text)


def _within_limit(stream: IO[bytes] | None) -> IO[bytes] | None:
    """The body, read up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``: DRF's JSON and form parsers skip Django's check."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if stream is None or limit is None:
        return stream
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return io.BytesIO(body)


class JSONParser(parsers.JSONParser):
    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(_within_limit(stream), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class FormParser(parsers.FormParser):
    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        return super().parse(_within_limit(stream), media_type, parser_context)


# Uploads take files only; every other view has the default parsers (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``).
UPLOAD_PARSERS = [parsers.MultiPartParser, FormParser]


class ChoiceField(serializers.ChoiceField):
    """A choice whose refusal quotes a short excerpt of what was sent and lists what is accepted."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            accepted = ", ".join(str(choice) for choice in self.choices)
            raise serializers.ValidationError(
                f'"{excerpt(data)}" is not a valid choice: use one of {accepted}.', code="invalid_choice"
            ) from None


class NoInput(serializers.Serializer):
    """A request that takes no body: if one is sent anyway it must at least be an object (its keys are ignored)."""


def validated(serializer: type[serializers.Serializer], request: Request) -> Mapping[str, Any]:
    """The request body checked by ``serializer``; an invalid one answers 400 naming the field."""
    checked = serializer(data=request.data)
    checked.is_valid(raise_exception=True)
    return checked.validated_data
