"""A Redis cache that reads as empty while Redis is down, so a Redis outage costs speed, not requests.

Django's ``RedisCache`` raises on a connection error, which would fail every request that touches the
cache: cached_db sessions, throttles. Here reads miss and writes are dropped instead; sessions then
come from the database, and nothing is lost that the database does not also hold.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from infantino_site.oncely import OncePer

logger = logging.getLogger(__name__)

_warnings = OncePer(60.0)


def _unavailable(operation: str, error: RedisError) -> None:
    """Log that Redis is down at most once a minute: every request would say it otherwise."""
    if _warnings.due():
        logger.warning("the Redis cache is unavailable (%s: %s); reading it as empty meanwhile", operation, error)


class TolerantRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as error:
            _unavailable("get", error)
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        try:
            return super().get_many(keys, version)
        except RedisError as error:
            _unavailable("get_many", error)
            return {}

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except RedisError as error:
            _unavailable("has_key", error)
            return False

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except RedisError as error:
            _unavailable("set", error)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        try:
            return super().set_many(data, timeout, version)
        except RedisError as error:
            _unavailable("set_many", error)
            return list(data)  # Django's contract: the keys that were not stored

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except RedisError as error:
            _unavailable("add", error)
            return False

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            return super().touch(key, timeout, version)
        except RedisError as error:
            _unavailable("touch", error)
            return False

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return super().incr(key, delta, version)
        except RedisError as error:
            _unavailable("incr", error)
            raise ValueError(f"Key '{key}' not found") from None  # what an empty cache answers

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except RedisError as error:
            _unavailable("delete", error)
            return False

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        try:
            super().delete_many(keys, version)
        except RedisError as error:
            _unavailable("delete_many", error)

    def clear(self) -> None:
        try:
            super().clear()
        except RedisError as error:
            _unavailable("clear", error)
