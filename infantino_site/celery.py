"""The Celery app for production's background workers (``celery -A infantino_site worker -Q online …``).

One task runs any job by its dotted path; ``route_job`` sends it to the job's queue (``online`` for
online learning, ``training`` for retrains). A failed job is retried with a doubling delay, and a
worker that starts queues every waiting label again, so labels whose worker died are not lost.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infantino_site.settings")

logger = logging.getLogger(__name__)

app = Celery("infantino")
app.config_from_object("django.conf:settings", namespace="CELERY")


def route_job(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> dict[str, str] | None:
    """Celery router: ``infantino.run_job`` goes to the queue its job path is assigned to."""
    if name != "infantino.run_job" or not args:
        return None
    from infantino_site.jobs import queue_for

    return {"queue": queue_for(args[0])}


@app.task(name="infantino.run_job", bind=True)
def run_job(self: Task, path: str, kwargs: dict[str, Any]) -> None:
    from django.conf import settings

    from infantino_site.jobs import retry_delay
    from infantino_site.jobs import run_job as run

    try:
        run(path, kwargs)
    except Exception as error:
        attempt = self.request.retries
        if attempt >= settings.INFANTINO_JOB_MAX_RETRIES:
            logger.error("job %s failed %d times; giving up", path, attempt + 1)
            raise
        delay = retry_delay(attempt)
        logger.warning("job %s failed (%s); retrying in %.0f s", path, error, delay)
        raise self.retry(exc=error, countdown=delay, max_retries=settings.INFANTINO_JOB_MAX_RETRIES) from None


@worker_ready.connect
def _requeue_waiting_labels(sender: Any = None, **_: Any) -> None:
    """A starting worker queues every waiting label again: those a dead worker held are learned, not lost."""
    app.send_task("infantino.run_job", args=["annotations.tasks.learn_waiting", {"older_than": 0}])
