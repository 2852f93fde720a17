"""The Celery app for production's background workers (``celery -A infantino_site worker -Q online …``).

One task runs any registered job by its dotted path; ``route_job`` sends it to the job's queue and beat runs the
periodic jobs, both as the apps registered them in ``common.jobs``. A failed job is retried by the jobs'
retry policy, and a worker that starts queues every waiting label again, so labels whose worker died are not lost.
"""

from __future__ import annotations

import os
from typing import Any

import django
from celery import Celery, Task
from celery.signals import worker_ready
from django.apps import apps
from django.conf import settings

from common import jobs
from infantino_site.env import load_env_file
from infantino_site.variables import value

load_env_file()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infantino_site.settings")

app = Celery("infantino")
app.config_from_object("django.conf:settings", namespace="CELERY")
# A job is acknowledged when it has finished, and one whose worker died is handed to another worker: every job
# is safe to run twice (the single writer checks what is already done). One job at a time per worker process.
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    # Redis hands a job taken by a worker that vanished to another after this long: it must outlast the longest job
    # (a full retrain) and the longest retry delay, or a running job would be handed out twice.
    broker_transport_options={"visibility_timeout": value("CELERY_VISIBILITY_TIMEOUT")},
    beat_schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule"),
)


def route_job(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> dict[str, str] | None:
    """Celery router: ``infantino.run_job`` goes to the queue its job path is assigned to."""
    if name != jobs.TASK_NAME or not args:
        return None
    return {"queue": jobs.queue_for(args[0])}


app.conf.task_routes = [route_job]
jobs.send_with(app)


@app.task(name=jobs.TASK_NAME, bind=True, max_retries=None)  # how often: the jobs' retry policy
def run_job(self: Task, path: str, kwargs: dict[str, Any]) -> None:
    try:
        jobs.run_job(path, kwargs)
    except Exception as error:
        delay = jobs.retry_after(path, self.request.retries, error)
        if delay is None:
            raise
        raise self.retry(exc=error, countdown=delay) from None


@app.on_after_configure.connect
def _schedule_periodic_jobs(sender: Celery, **_: Any) -> None:
    """Beat runs the periodic jobs the apps registered: Django's apps are made ready first, as they register them."""
    # A worker or beat process reads its configuration before Celery's Django fixup sets Django up; in a web process
    # the apps are ready long before (the configuration is read on the first job sent).
    if not apps.ready and not apps.loading:
        django.setup()
    for path, seconds in jobs.periodic_jobs().items():
        sender.add_periodic_task(seconds, run_job.s(path, {}), name=path)


@worker_ready.connect
def _run_start_jobs(sender: Any = None, **_: Any) -> None:
    """A starting worker queues every waiting label again: those a dead worker held are learned, not lost."""
    for path, kwargs in jobs.worker_start_jobs():
        jobs.send(path, kwargs)
