"""The single writer: one online update at a time across the whole deployment.

A thread lock in the process, plus a PostgreSQL advisory lock (production) or a file lock in
``VAR_DIR`` (SQLite) across processes, so two Celery workers never race for a parent version or a
version number.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

ADVISORY_LOCK_KEY = 0x1AF0_0001  # any constant shared by every process of this deployment

_thread_lock = threading.Lock()


class LabelWaits(RuntimeError):
    """A label cannot be learned now (no live model, or MLflow unreachable); its job is retried later."""


@contextmanager
def single_writer() -> Iterator[None]:
    """Hold the deployment-wide writer lock."""
    with _thread_lock:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            try:
                yield
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        else:
            path = settings.VAR_DIR / "online-learning.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
