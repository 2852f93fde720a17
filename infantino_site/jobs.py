"""Background jobs: one in-process worker thread (embedded), Celery workers (production), or inline.

A job that raises runs again later, after a delay that doubles each time (``retry_delay``): a label
whose update failed because MLflow or S3 was unreachable waits and is learned once the service is
back. Every job must therefore be safe to run twice; the single writer checks what is done already.
Periodic jobs (``INFANTINO_PERIODIC_JOBS``) run from Celery beat, or when the worker thread is idle.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

_queue: queue.Queue[tuple[str, dict[str, Any], int]] = queue.Queue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()
_pending_retries = 0  # jobs waiting on a retry timer: not idle yet
_pending_lock = threading.Lock()


def enqueue(path: str, **kwargs: Any) -> None:
    """Run the function at dotted ``path`` with ``kwargs`` (JSON-serialisable) in the background."""
    runner = settings.INFANTINO_JOB_RUNNER
    if runner == "inline":
        run_job(path, kwargs)
    elif runner == "celery":
        from infantino_site.celery import app

        app.send_task("infantino.run_job", args=[path, kwargs])  # queued by ``queue_for``, see celery.route_job
    else:
        _ensure_worker()
        _queue.put((path, kwargs, 0))


def queue_for(path: str) -> str:
    """The Celery queue a job goes to: online learning to ``online``, retrains to ``training``."""
    return settings.INFANTINO_JOB_QUEUES.get(path, settings.CELERY_TASK_DEFAULT_QUEUE)


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (0-based) of a failed job: 2, 4, 8 … up to the cap."""
    return min(settings.INFANTINO_JOB_RETRY_MAX_DELAY, 2.0 * 2**attempt)


def run_job(path: str, kwargs: dict[str, Any]) -> Any:
    return _resolve(path)(**kwargs)


def wait_for_idle(timeout: float | None = None) -> None:
    """Block until the in-process queue is drained and no retry is pending (tests and shutdown)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        _queue.join() if remaining is None else _join_with_timeout(remaining)
        with _pending_lock:
            if _pending_retries == 0:
                return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"background jobs still waiting to be retried after {timeout} s")
        time.sleep(0.05)


def _join_with_timeout(timeout: float) -> None:
    done = threading.Event()
    threading.Thread(target=lambda: (_queue.join(), done.set()), daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"background jobs still running after {timeout} s")


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _ensure_worker() -> None:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="infantino-jobs", daemon=True)
            _worker.start()


def _work() -> None:
    _run_periodic(on_start=True)
    idle_every = min(settings.INFANTINO_PERIODIC_JOBS.values(), default=3600)
    while True:
        try:
            path, kwargs, attempt = _queue.get(timeout=idle_every)
        except queue.Empty:
            _run_periodic(on_start=False)
            continue
        try:
            close_old_connections()
            run_job(path, kwargs)
        except Exception as error:
            _retry_later(path, kwargs, attempt, error)
        finally:
            close_old_connections()
            _queue.task_done()


def _run_periodic(*, on_start: bool) -> None:
    """The periodic jobs, run by the worker thread itself when it starts and whenever it has been idle."""
    for path in settings.INFANTINO_PERIODIC_JOBS:
        try:
            close_old_connections()
            run_job(path, {"older_than": 0} if on_start else {})
        except Exception:
            logger.exception("periodic job %s failed", path)


def _retry_later(path: str, kwargs: dict[str, Any], attempt: int, error: Exception) -> None:
    global _pending_retries
    if attempt >= settings.INFANTINO_JOB_MAX_RETRIES:
        logger.error("background job %s failed %d times; giving up: %s", path, attempt + 1, error, exc_info=error)
        return
    delay = retry_delay(attempt)
    logger.warning("background job %s failed (%s); retrying in %.0f s", path, error, delay)

    def again() -> None:
        global _pending_retries
        _queue.put((path, kwargs, attempt + 1))
        with _pending_lock:
            _pending_retries -= 1

    with _pending_lock:
        _pending_retries += 1
    timer = threading.Timer(delay, again)
    timer.daemon = True
    timer.start()
