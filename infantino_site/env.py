"""Typed, strict reading of environment variables for settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_Number = TypeVar("_Number", int, float)


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _env_number(name, default, int, "an integer")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be {minimum} or more, not {value}")
    return value


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_number(name: str, default: _Number, parse: Callable[[str], _Number], kind: str) -> _Number:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def require_together(names: list[str], *, part: str) -> None:
    """If any of ``names`` is set, all must be: a production part is on or off, never halfway."""
    present = [n for n in names if os.environ.get(n)]
    if present and len(present) != len(names):
        missing = [n for n in names if not os.environ.get(n)]
        raise ImproperlyConfigured(
            f"{part} is partly configured ({', '.join(present)} set): set {', '.join(missing)} as well"
        )


def env_secret(name: str, *, required_by: list[str]) -> str | None:
    """A signing key: required once any variable in ``required_by`` is set, and never a guessable one."""
    value = env_str(name)
    if value is None:
        if required_by:
            raise ImproperlyConfigured(f"{name} must be set when {required_by[0]} is set")
        return None
    # Django's own bar (check --deploy's security.W009): a guessable key forges sessions and password resets.
    if len(value) < 50 or len(set(value)) < 5 or value.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            f"{name} is too weak: use 50 or more random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return value


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str | None:
    """A request rate such as ``20/min``; ``off`` means no limit (None)."""
    value = (env_str(name, default) or "").strip().lower()
    if value in {"off", "none"}:
        return None
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in _RATE_PERIODS:
        raise ImproperlyConfigured(f"{name} must be a rate like 20/min (per s, min, hour or day) or off, not {value!r}")
    return f"{int(count)}/{period}"
