"""Background jobs: the job table, the retry policy and ``enqueue``, whichever runner runs them.

Runners (``INFANTINO_JOB_RUNNER``): one in-process worker thread (embedded), Celery workers (production; the
app in ``infantino_site.celery`` hands itself over through ``send_with``), or inline. A job that raises runs
again later, after a delay that doubles each time (``retry_after``): a label whose update failed because
MLflow or S3 was unreachable waits and is learned once the service is back. Every job must therefore be safe
to run twice; the single writer checks what is done already.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

# ---- the job table -----------------------------------------------------------------------------------
TASK_NAME = "infantino.run_job"  # the one Celery task: it runs any job by its dotted path
DEFAULT_QUEUE = "celery"  # Celery's own default queue
LEARN_WAITING = "annotations.tasks.learn_waiting"
DELETE_EXPIRED = "predictions.tasks.delete_expired"
RETENTION_EVERY_SECONDS = 3600.0  # retention counts in days: an hour late is on time
# Online-learning jobs go to one worker process (`-Q online --concurrency 1`: one writer, in order), retrains
# to their own worker(s) so a long retrain never delays a label; anything else to the default queue.
QUEUES = {
    "annotations.tasks.learn": "online",
    "annotations.tasks.undo": "online",
    "annotations.tasks.unlearn": "online",  # the head refit without a deleted photo: the single writer's job
    "annotations.tasks.warm_up": "online",
    LEARN_WAITING: "online",
    "modelops.tasks.run_retrain": "training",
}
# Run as a worker starts: every waiting label is queued again, however recent, so those a dead worker held
# are learned, not lost.
ON_WORKER_START: tuple[tuple[str, dict[str, Any]], ...] = ((LEARN_WAITING, {"older_than": 0}),)


def periodic_jobs() -> dict[str, float]:
    """Jobs run every so many seconds: by Celery beat, or by the worker thread whenever it has been idle."""
    return {LEARN_WAITING: float(settings.INFANTINO_RELEARN_AFTER_SECONDS), DELETE_EXPIRED: RETENTION_EVERY_SECONDS}


def queue_for(path: str) -> str:
    """The Celery queue a job goes to: online learning to ``online``, retrains to ``training``."""
    return QUEUES.get(path, DEFAULT_QUEUE)


# ---- the retry policy, for every runner ---------------------------------------------------------------
def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (0-based) of a failed job: 2, 4, 8 … up to the cap."""
    return min(settings.INFANTINO_JOB_RETRY_MAX_DELAY, 2.0 * 2**attempt)


def retry_after(path: str, attempt: int, error: Exception) -> float | None:
    """Seconds before job ``path`` runs again after failing ``attempt`` times before; None once it gives up."""
    if attempt >= settings.INFANTINO_JOB_MAX_RETRIES:
        logger.error("background job %s failed %d times; giving up: %s", path, attempt + 1, error, exc_info=error)
        return None
    delay = retry_delay(attempt)
    logger.warning("background job %s failed (%s); retrying in %.0f s", path, error, delay)
    return delay


# ---- enqueue -------------------------------------------------------------------------------------------
_celery: Celery | None = None
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
        send(path, kwargs)
    else:
        _ensure_worker()
        _queue.put((path, kwargs, 0))


def send_with(app: Celery) -> None:
    """Jobs for Celery go out through ``app`` (``infantino_site.celery`` calls this as it makes its app)."""
    global _celery
    _celery = app


def send(path: str, kwargs: dict[str, Any]) -> None:
    """Queue a job for the Celery workers; the app's router sends it to ``queue_for(path)``."""
    if _celery is None:
        raise RuntimeError("INFANTINO_JOB_RUNNER is celery, but the Celery app (infantino_site.celery) is not loaded")
    _celery.send_task(TASK_NAME, args=[path, kwargs])


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

    def join() -> None:
        _queue.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"background jobs still running after {timeout} s")


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# ---- the in-process worker thread ------------------------------------------------------------------------
def _ensure_worker() -> None:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="infantino-jobs", daemon=True)
            _worker.start()


def _work() -> None:
    for path, kwargs in ON_WORKER_START:
        _run_quietly(path, kwargs)
    idle_every = min(periodic_jobs().values(), default=3600)
    while True:
        try:
            path, kwargs, attempt = _queue.get(timeout=idle_every)
        except queue.Empty:
            for path in periodic_jobs():
                _run_quietly(path, {})
            continue
        try:
            close_old_connections()
            run_job(path, kwargs)
        except Exception as error:
            _retry_later(path, kwargs, attempt, error)
        finally:
            close_old_connections()
            _queue.task_done()


def _run_quietly(path: str, kwargs: dict[str, Any]) -> None:
    """A start-up or periodic job, run by the worker thread itself: it comes round again, so a failure is logged."""
    try:
        close_old_connections()
        run_job(path, kwargs)
    except Exception:
        logger.exception("periodic job %s failed", path)


def _retry_later(path: str, kwargs: dict[str, Any], attempt: int, error: Exception) -> None:
    global _pending_retries
    delay = retry_after(path, attempt, error)
    if delay is None:
        return

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
