"""The Celery app for production's background workers (``celery -A infantino_site worker``)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infantino_site.settings")

app = Celery("infantino")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="infantino.run_job")
def run_job(path: str, kwargs: dict[str, Any]) -> None:
    from infantino_site.jobs import run_job as run

    run(path, kwargs)
