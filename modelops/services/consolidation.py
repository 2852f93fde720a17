"""A consolidation asked for from the dashboard: queued as a job of the single writer, which owns the live line."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from infantino_site.jobs import enqueue

# By path, as predictions queues the unlearn job: model operations must not import the labeling app.
CONSOLIDATE_JOB = "annotations.tasks.consolidate"


def consolidation_start(*, user: AbstractBaseUser) -> None:
    """Refit the live head on every label + replay in the background; it goes live only if the guard passes."""
    transaction.on_commit(lambda: enqueue(CONSOLIDATE_JOB, user_id=user.pk))
