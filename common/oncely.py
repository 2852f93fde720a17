"""Warnings that every request would otherwise repeat while a service is down, said at most once a period."""

from __future__ import annotations

import threading
import time


class OncePer:
    """``due(key)`` is true at most once every ``seconds`` for each key; safe across threads."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._said_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, key: str = "") -> bool:
        now = time.monotonic()
        with self._lock:
            said_at = self._said_at.get(key)
            if said_at is not None and now - said_at < self.seconds:
                return False
            self._said_at[key] = now
            return True

    def forget(self, key: str = "") -> None:
        """Say the next one at once."""
        with self._lock:
            self._said_at.pop(key, None)
