"""Probes for load balancers: ``/healthz`` (the process answers) and ``/readyz`` (every part it needs answers).

``/readyz`` asks the database, the cache, the image storage, MLflow and the live model, all at once, each in
a thread of its own, and answers within ``READY_TIMEOUT_SECONDS`` whatever hangs. A check still running from an
earlier probe is waited on rather than started again, so a hung service never piles up threads. Answers name
each part and say "ok" or, briefly, what failed; details (hosts, errors) go to the log, never to the answer.

It sits on top, like ``urls.py``: it reads the model through ``predictions.ml``, the one door to it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from storages.backends.s3 import S3Storage

from common.oncely import OncePer
from predictions import ml

logger = logging.getLogger(__name__)

OK = "ok"
READY_TIMEOUT_SECONDS = 3.0
MLFLOW_TIMEOUT_SECONDS = 2.0


class NotReady(Exception):
    """A check's failure, in words safe to show anyone."""


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def shared_cache() -> None:
    # The Redis cache reads as empty while Redis is down instead of raising: only a value read back proves it works.
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, OK, timeout=30)
    try:
        if cache.get(key) != OK:
            raise NotReady("unavailable: a value written could not be read back")
    finally:
        cache.delete(key)


def image_storage() -> None:
    storage = storages["default"]
    if isinstance(storage, S3Storage):
        storage.bucket.meta.client.head_bucket(Bucket=storage.bucket_name)  # its own short timeouts: see settings
    elif isinstance(storage, FileSystemStorage):
        folder = Path(storage.location)
        folder.mkdir(parents=True, exist_ok=True)  # the first upload would make it too
        if not os.access(folder, os.W_OK):
            raise NotReady("the media folder is not writable")


def mlflow() -> None:
    uri = settings.INFANTINO_MLFLOW_URI
    if uri.startswith(("http://", "https://")):
        # The server's own probe: the backend would answer from the model in memory while the server is down.
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=MLFLOW_TIMEOUT_SECONDS):
            return
    ml.backend().live_version()  # a local store (the embedded profile's SQLite file), read through the backend


def live_model() -> None:
    try:
        ml.backend().served()  # loads the live version when this process has none yet
    except ml.ModelUnavailable as error:
        raise NotReady(str(error)) from None


CHECKS: dict[str, Callable[[], None]] = {
    "database": database,
    "cache": shared_cache,
    "storage": image_storage,
    "mlflow": mlflow,
    "model": live_model,
}


@dataclass
class _Run:
    done: threading.Event = field(default_factory=threading.Event)
    outcome: str = ""


_running: dict[str, _Run] = {}
_running_lock = threading.Lock()
_warnings = OncePer(60.0)


def _execute(name: str, run: _Run) -> None:
    try:
        CHECKS[name]()
        run.outcome = OK
    except NotReady as error:
        run.outcome = str(error)
    except Exception as error:
        if _warnings.due(name):  # probes come every few seconds: one traceback a minute per part is enough
            logger.warning("readiness check %s failed", name, exc_info=True)
        run.outcome = f"unavailable ({type(error).__name__})"  # the class, not the message: it may name hosts
    finally:
        connections.close_all()  # this thread's connection goes back to the pool: the thread ends here
        run.done.set()


def _started(name: str) -> _Run:
    with _running_lock:
        run = _running.get(name)
        if run is None or run.done.is_set():
            run = _running[name] = _Run()
            # A daemon: a check hung on a dead service must not hold up the process when it stops.
            threading.Thread(target=_execute, args=(name, run), name=f"readyz-{name}", daemon=True).start()
        return run


def readiness() -> dict[str, str]:
    """Every part's status, "ok" or what failed, within ``READY_TIMEOUT_SECONDS``."""
    runs = {name: _started(name) for name in CHECKS}
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    checks = {}
    for name, run in runs.items():
        if run.done.wait(max(0.0, deadline - time.monotonic())):
            checks[name] = run.outcome
            continue
        if _warnings.due(f"{name}:timeout"):
            logger.warning("readiness check %s did not answer within %g s", name, READY_TIMEOUT_SECONDS)
        checks[name] = f"timed out after {READY_TIMEOUT_SECONDS:g} s"
    return checks


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers requests; nothing else is asked."""
    return _answer({"status": OK}, 200)


def readyz(request: HttpRequest) -> HttpResponse:
    checks = readiness()
    ready = all(status == OK for status in checks.values())
    return _answer({"status": OK if ready else "unavailable", "checks": checks}, 200 if ready else 503)


def _answer(body: dict[str, object], status: int) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware(MiddlewareMixin):
    """First in MIDDLEWARE: answers the probes before the host check, the HTTPS redirect, sessions and CSRF.

    A load balancer probes each process at its own address, over plain http and with a Host header of its
    choosing; ALLOWED_HOSTS or the redirect would turn every probe into a 400 or a 301 and the process out of
    service. The answers carry nothing but the parts' names and states, so who asks does not matter.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        probe = PROBES.get(request.path_info.rstrip("/"))
        if probe is None:
            return None
        if request.method not in {"GET", "HEAD"}:
            refused = _answer({"error": "Only GET is answered here."}, 405)
            refused["Allow"] = "GET, HEAD"
            return refused
        return probe(request)
