"""A Redis cache that reads as empty while Redis is down, so a Redis outage costs speed, not requests.

Django's ``RedisCache`` raises on a connection error, which would fail every request that touches the
cache: cached_db sessions, throttles. Here reads miss and writes are dropped instead; sessions then
come from the database, and nothing is lost that the database does not also hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from common.oncely import OncePer

logger = logging.getLogger(__name__)

_warnings = OncePer(60.0)


def _unavailable(operation: str, error: RedisError) -> None:
    """Log that Redis is down at most once a minute: every request would say it otherwise."""
    if _warnings.due():
        logger.warning("the Redis cache is unavailable (%s: %s); reading it as empty meanwhile", operation, error)


def _or_else(fallback: Any, operation: Callable[..., Any], *args: Any) -> Any:
    """``operation(*args)``, or ``fallback`` (what an empty cache would answer) while Redis is down."""
    try:
        return operation(*args)
    except RedisError as error:
        _unavailable(operation.__name__, error)
        return fallback


class TolerantRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return _or_else(default, super().get, key, default, version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return _or_else({}, super().get_many, keys, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return _or_else(False, super().has_key, key, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        _or_else(None, super().set, key, value, timeout, version)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return _or_else(list(data), super().set_many, data, timeout, version)  # Django's contract: keys not stored

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return _or_else(False, super().add, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return _or_else(False, super().touch, key, timeout, version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return super().incr(key, delta, version)
        except RedisError as error:
            _unavailable("incr", error)
            raise ValueError(f"Key '{key}' not found") from None  # what an empty cache answers

    def delete(self, key: Any, version: int | None = None) -> bool:
        return _or_else(False, super().delete, key, version)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        _or_else(None, super().delete_many, keys, version)

    def clear(self) -> None:
        _or_else(None, super().clear)
