"""Typed, strict reading of environment variables for settings, and of the ``.env`` file that may set them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
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


# ---- the .env file -------------------------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parent.parent
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def load_env_file(path: Path | None = None) -> dict[str, str]:
    """Set the variables a ``.env`` file names that the environment does not already hold; returns those set.

    The file is ``INFANTINO_ENV_FILE`` (which must exist; ``/dev/null`` reads none) or ``.env`` in the repository
    root, when there is one.
    """
    named = os.environ.get("INFANTINO_ENV_FILE")
    path = path or (Path(named) if named else REPO_ROOT / ".env")
    if not path.exists():
        if named:
            raise ImproperlyConfigured(f"INFANTINO_ENV_FILE names {named!r}, which does not exist")
        return {}
    found = env_file_read(path)
    added = {name: value for name, value in found.items() if name not in os.environ}  # the real environment wins
    os.environ.update(added)
    return added


def env_file_read(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``export`` allowed), ``#`` comments, values bare, 'single-' or "double-quoted"."""
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, rest = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not equals or not _KEY.fullmatch(name):
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value")
        try:
            found[name] = _value(rest.rstrip())
        except ValueError as problem:
            raise ImproperlyConfigured(f"{path}, line {number} ({name}): {problem}") from None
    return found


def _value(spaced: str) -> str:
    text = spaced.lstrip()
    if not text or text[0] not in "\"'":
        # A bare value ends where a comment starts, after a space: ``NAME=   # why`` is empty, ``NAME=#1`` is not.
        return re.split(r"\s+#", spaced, maxsplit=1)[0].strip()
    quote, value, escaped = text[0], [], False
    for index, char in enumerate(text[1:], start=1):
        if escaped:
            value.append(_ESCAPES.get(char, "\\" + char))
            escaped = False
        elif char == "\\" and quote == '"':
            escaped = True
        elif char == quote:
            after = text[index + 1 :].strip()
            if after and not after.startswith("#"):
                raise ValueError("only a comment may follow the closing quote")
            return "".join(value)
        else:
            value.append(char)
    raise ValueError(f"the value opens a {quote} quote and does not close it")
