"""Background jobs: one in-process worker thread (embedded), Celery workers (production), or inline."""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

_queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def enqueue(path: str, **kwargs: Any) -> None:
    """Run the function at dotted ``path`` with ``kwargs`` (JSON-serialisable) in the background."""
    runner = settings.INFANTINO_JOB_RUNNER
    if runner == "inline":
        run_job(path, kwargs)
    elif runner == "celery":
        from infantino_site.celery import app

        app.send_task("infantino.run_job", args=[path, kwargs])
    else:
        _ensure_worker()
        _queue.put((path, kwargs))


def run_job(path: str, kwargs: dict[str, Any]) -> Any:
    return _resolve(path)(**kwargs)


def wait_for_idle(timeout: float | None = None) -> None:
    """Block until the in-process queue is drained (tests and shutdown)."""
    _queue.join() if timeout is None else _join_with_timeout(timeout)


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
    while True:
        path, kwargs = _queue.get()
        try:
            close_old_connections()
            run_job(path, kwargs)
        except Exception:
            logger.exception("background job %s failed", path)
        finally:
            close_old_connections()
            _queue.task_done()
