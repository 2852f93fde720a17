"""A consolidation asked for from the dashboard: the room that owns the live line hears it and queues the job."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from modelops.signals import consolidation_requested


def consolidation_start(*, user: AbstractBaseUser) -> None:
    """Refit the live head on every label + replay in the background; it goes live only if the guard passes."""
    # An event, not a job named by path: model operations must not name the labeling room's tasks.
    consolidation_requested.send(sender=None, user_id=user.pk)
