"""Image storage on S3: django-storages' backend, with one boto3 session per process rather than per thread."""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config
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

    def __init__(self, *, connect_timeout: float, read_timeout: float, max_attempts: int, **options: Any) -> None:
        # While S3 is down an upload answers 503 within seconds instead of holding a worker for minutes.
        retries = {"max_attempts": max_attempts, "mode": "standard"}
        timeouts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout}
        config = Config(signature_version="s3v4", retries=retries, **timeouts)
        super().__init__(client_config=config, **options)

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
