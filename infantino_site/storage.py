"""Image storage on S3: django-storages' backend, with one boto3 session per process rather than per thread."""

from __future__ import annotations

import threading
from typing import Any

from storages.backends.s3 import S3Storage

# Under ASGI every request runs in a thread of its own, and django-storages keeps its boto3 connection per
# thread: each upload paid ~80 ms for a new session loading botocore's service models. A shared session makes
# a thread's connection in ~4 ms. boto3 sessions are not thread-safe, so connections are made under a lock.
_lock = threading.Lock()
_sessions: dict[tuple[Any, ...], Any] = {}


class S3ImageStorage(S3Storage):
    """The private image bucket: every URL handed out is presigned (settings: how long, and the timeouts)."""

    default_acl = "private"
    querystring_auth = True
    file_overwrite = False  # a stored photo is never replaced: the same photo arriving twice at once gets a new name

    @property
    def connection(self) -> Any:
        with _lock:
            return super().connection

    @property
    def unsigned_connection(self) -> Any:
        with _lock:
            return super().unsigned_connection

    def _create_session(self) -> Any:
        key = (self.session_profile, self.access_key, self.secret_key, self.security_token)
        if key not in _sessions:
            _sessions[key] = super()._create_session()
        return _sessions[key]
