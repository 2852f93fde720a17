"""Background jobs: the job table, the retry policy and ``enqueue``, whichever runner runs them.

Runners (``INFANTINO_JOB_RUNNER``): in-process worker threads (embedded: one for retrains, one for everything
else), Celery workers (production; the app in ``infantino_site.celery`` hands itself over through ``send_with``),
or inline. A job that raises runs again later, after a delay that doubles each time (``retry_after``): a label
whose update failed because MLflow or S3 was unreachable waits and is learned once the service is back. Every
job must therefore be safe to run twice; the single writer checks what is done already.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import sys
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
    "annotations.tasks.consolidate": "online",  # the head refit on every label: the single writer's too
    "annotations.tasks.warm_up": "online",
    LEARN_WAITING: "online",
    "modelops.tasks.run_retrain": "training",
    # A clip's analysis takes minutes: its own workers (`-Q video`, as many as there are clips to analyse at once),
    # so a clip never waits behind a retrain or delays a label, and a retrain never waits behind clips.
    "videos.tasks.analyse": "video",
}
# Run as a worker starts: every waiting label is queued again, however recent, so those a dead worker held
# are learned, not lost.
ON_WORKER_START: tuple[tuple[str, dict[str, Any]], ...] = ((LEARN_WAITING, {"older_than": 0}),)


def periodic_jobs() -> dict[str, float]:
    """Jobs run every so many seconds: by Celery beat, or by the worker thread whenever it has been idle."""
    return {
        LEARN_WAITING: float(settings.INFANTINO_RELEARN_AFTER_SECONDS),
        DELETE_EXPIRED: RETENTION_EVERY_SECONDS,
        "videos.tasks.delete_expired": RETENTION_EVERY_SECONDS,
    }


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
TRAINING = "training"
VIDEO = "video"
_celery: Celery | None = None
# The embedded runner mirrors the Celery queues that matter: a retrain of several minutes has a worker thread of its
# own, so a label enqueued meanwhile is learned at once, and so has a clip's analysis; every other job shares the "jobs"
# thread, in order.
_queues: dict[str, queue.Queue[tuple[str, dict[str, Any], int]]] = {
    "jobs": queue.Queue(),
    TRAINING: queue.Queue(),
    VIDEO: queue.Queue(),
}
_workers: dict[str, threading.Thread] = {}
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
        lane = _lane(path)
        _ensure_worker("jobs")  # the one that sweeps waiting labels and runs the periodic jobs, whatever came first
        _ensure_worker(lane)
        _queues[lane].put((path, kwargs, 0))


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
    """Block until the in-process queues are drained and no retry is pending (tests and shutdown)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for waiting in _queues.values():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            waiting.join() if remaining is None else _join_with_timeout(waiting, remaining)
        with _pending_lock:
            # A job on one queue may enqueue one on the other after that was joined: idle is both empty at once.
            if _pending_retries == 0 and all(waiting.unfinished_tasks == 0 for waiting in _queues.values()):
                return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"background jobs still waiting to be retried after {timeout} s")
        time.sleep(0.05)


def _join_with_timeout(waiting: queue.Queue[Any], timeout: float) -> None:
    done = threading.Event()

    def join() -> None:
        waiting.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"background jobs still running after {timeout} s")


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# ---- the in-process worker threads -----------------------------------------------------------------------
def _lane(path: str) -> str:
    return queue_for(path) if queue_for(path) in (TRAINING, VIDEO) else "jobs"


def _ensure_worker(lane: str) -> None:
    with _worker_lock:
        worker = _workers.get(lane)
        if worker is None or not worker.is_alive():
            target, args = (_work, ()) if lane == "jobs" else (_train, (lane,))
            _workers[lane] = threading.Thread(target=target, args=args, name=f"infantino-{lane}", daemon=True)
            _workers[lane].start()


def _work() -> None:
    for path, kwargs in ON_WORKER_START:
        _run_quietly(path, kwargs)
    idle_every = min(periodic_jobs().values(), default=3600)
    while True:
        try:
            job = _queues["jobs"].get(timeout=idle_every)
        except queue.Empty:
            for path in periodic_jobs():
                _run_quietly(path, {})
            continue
        _run_taken("jobs", *job)


def _train(lane: str) -> None:
    """A long jobs' worker (retrains, clips): niced before its first torch operation, so torch's threads are too."""
    lower_priority(settings.INFANTINO_TRAIN_NICE)
    while True:
        _run_taken(lane, *_queues[lane].get())


def lower_priority(niceness: int) -> None:
    """Run this thread (Linux counts niceness per thread) at ``niceness``, never at a higher priority than now."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere a thread id given to setpriority could name another process
    thread = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < niceness:
            os.setpriority(os.PRIO_PROCESS, thread, niceness)
    except OSError as error:
        logger.warning("the training thread keeps its priority: niceness %s refused (%s)", niceness, error)


def _run_taken(lane: str, path: str, kwargs: dict[str, Any], attempt: int) -> None:
    try:
        close_old_connections()
        run_job(path, kwargs)
    except Exception as error:
        _retry_later(lane, path, kwargs, attempt, error)
    finally:
        close_old_connections()
        _queues[lane].task_done()


def _run_quietly(path: str, kwargs: dict[str, Any]) -> None:
    """A start-up or periodic job, run by the worker thread itself: it comes round again, so a failure is logged."""
    try:
        close_old_connections()
        run_job(path, kwargs)
    except Exception:
        logger.exception("periodic job %s failed", path)


def _retry_later(lane: str, path: str, kwargs: dict[str, Any], attempt: int, error: Exception) -> None:
    global _pending_retries
    delay = retry_after(path, attempt, error)
    if delay is None:
        return

    def again() -> None:
        global _pending_retries
        _queues[lane].put((path, kwargs, attempt + 1))
        with _pending_lock:
            _pending_retries -= 1

    with _pending_lock:
        _pending_retries += 1
    timer = threading.Timer(delay, again)
    timer.daemon = True
    timer.start()
