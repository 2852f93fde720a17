"""Background jobs: the job table, the retry policy and ``enqueue``, whichever runner runs them.

Each app registers its own jobs (``register``, in its ``AppConfig.ready``): the queue each goes to, which run by
themselves and which as a worker starts; this module names no app. Only a registered job is ever run.

Runners (``INFANTINO_JOB_RUNNER``): in-process worker threads (embedded: one per long jobs' queue, one for everything
else), Celery workers (production; the app in ``infantino_site.celery`` hands itself over through ``send_with``),
or inline. A job that raises runs again later, after a delay that doubles each time (``retry_after``): a label
whose update failed because MLflow or S3 was unreachable waits and is learned once the service is back. Every
job must therefore be safe to run twice; the single writer checks what is done already.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

# ---- the job table: each app registers its own jobs (``register`` in its AppConfig.ready) -------------------
TASK_NAME = "infantino.run_job"  # the one Celery task: it runs any registered job by its dotted path
DEFAULT_QUEUE = "celery"  # Celery's own default queue
SHARED_LANE = "jobs"  # the embedded runner's thread for every job without a lane of its own


@dataclass(frozen=True)
class Job:
    """A background job: its function, the Celery queue it goes to, and when it runs by itself."""

    function: Callable[..., Any]
    queue: str = DEFAULT_QUEUE
    # The embedded runner gives the job's queue a worker thread of its own, at a lower priority (INFANTINO_TRAIN_NICE):
    # minutes of work (a retrain, a clip) never delay a label, and pages go first.
    own_lane: bool = False
    every: float | Callable[[], float] | None = None  # seconds between runs by itself (Celery beat, the idle thread)
    on_worker_start: dict[str, Any] | None = None  # run with these arguments as a worker starts


JOBS: dict[str, Job] = {}


def job_path(function: Callable[..., Any]) -> str:
    """The dotted path a job is queued by (JSON for Celery): its module and name."""
    return f"{function.__module__}.{function.__qualname__}"


def register(
    function: Callable[..., Any],
    *,
    queue: str = DEFAULT_QUEUE,
    own_lane: bool = False,
    every: float | Callable[[], float] | None = None,
    on_worker_start: dict[str, Any] | None = None,
) -> str:
    """Make ``function`` a job that ``enqueue`` may queue and a worker may run; returns its path."""
    path = job_path(function)
    JOBS[path] = Job(function, queue, own_lane, every, on_worker_start)
    return path


def periodic_jobs() -> dict[str, float]:
    """Jobs run every so many seconds: by Celery beat, or by the worker thread whenever it has been idle."""
    return {
        path: float(job.every() if callable(job.every) else job.every)
        for path, job in JOBS.items()
        if job.every is not None
    }


def worker_start_jobs() -> list[tuple[str, dict[str, Any]]]:
    """Jobs run as a worker starts (every waiting label queued again: those a dead worker held are not lost)."""
    return [(path, dict(job.on_worker_start)) for path, job in JOBS.items() if job.on_worker_start is not None]


def queue_for(path: str) -> str:
    """The Celery queue a job goes to, as its app registered it."""
    job = JOBS.get(path)
    return DEFAULT_QUEUE if job is None else job.queue


def job_for(path: str) -> Job:
    """The registered job at ``path``; a path nobody registered is refused, never imported and run."""
    job = JOBS.get(path)
    if job is None:
        raise LookupError(f"no background job {path!r} is registered (apps register theirs: jobs.register)")
    return job


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
# The embedded runner mirrors the Celery queues that matter: a job registered with ``own_lane`` (a retrain of several
# minutes, a clip's analysis) has a worker thread per queue, made on its first job, so a label enqueued meanwhile is
# learned at once; every other job shares the "jobs" thread, in order.
_queues: dict[str, queue.Queue[tuple[str, dict[str, Any], int]]] = {SHARED_LANE: queue.Queue()}
_workers: dict[str, threading.Thread] = {}
_worker_lock = threading.Lock()
_pending_retries = 0  # jobs waiting on a retry timer: not idle yet
_pending_lock = threading.Lock()


def enqueue(path: str, **kwargs: Any) -> None:
    """Run the registered job at dotted ``path`` with ``kwargs`` (JSON-serialisable) in the background."""
    job_for(path)  # an unknown job fails here, in the caller, not later in a worker
    runner = settings.INFANTINO_JOB_RUNNER
    if runner == "inline":
        run_job(path, kwargs)
    elif runner == "celery":
        send(path, kwargs)
    else:
        lane = _lane(path)
        _ensure_worker(SHARED_LANE)  # it sweeps waiting labels and runs the periodic jobs, whatever came first
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
    return job_for(path).function(**kwargs)


def wait_for_idle(timeout: float | None = None) -> None:
    """Block until the in-process queues are drained and no retry is pending (tests and shutdown)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for waiting in list(_queues.values()):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            waiting.join() if remaining is None else _join_with_timeout(waiting, remaining)
        with _pending_lock:
            # A job on one queue may enqueue one on the other after that was joined: idle is both empty at once.
            if _pending_retries == 0 and all(waiting.unfinished_tasks == 0 for waiting in list(_queues.values())):
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


# ---- the in-process worker threads -----------------------------------------------------------------------
def _lane(path: str) -> str:
    job = job_for(path)
    return job.queue if job.own_lane else SHARED_LANE


def _ensure_worker(lane: str) -> None:
    with _worker_lock:
        _queues.setdefault(lane, queue.Queue())
        worker = _workers.get(lane)
        if worker is None or not worker.is_alive():
            target, args = (_work, ()) if lane == SHARED_LANE else (_train, (lane,))
            _workers[lane] = threading.Thread(target=target, args=args, name=f"infantino-{lane}", daemon=True)
            _workers[lane].start()


def _work() -> None:
    for path, kwargs in worker_start_jobs():
        _run_quietly(path, kwargs)
    idle_every = min(periodic_jobs().values(), default=3600)
    while True:
        try:
            job = _queues[SHARED_LANE].get(timeout=idle_every)
        except queue.Empty:
            for path in periodic_jobs():
                _run_quietly(path, {})
            continue
        _run_taken(SHARED_LANE, *job)


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
