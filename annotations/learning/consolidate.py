"""Consolidation of the live line: the head refitted on every label plus replay, as a new version, guarded.

Online updates learn one label at a time, and the line drifts from what the labels as a whole say: a head
refitted on all of them with the replay pool gained ~3 points on photos nobody labeled where the online line
gained nothing. Every ``INFANTINO_CONSOLIDATE_EVERY`` labeled images, and on demand from the dashboard, the
single writer refits the head (seconds), registers it onto the live version (same extractor, tagged with
the number of labels it holds), judges it with the forgetting guard, and the alias service makes it live if
it passes. Then every label is scored for label noise and the likeliest mistakes go back to the queue.
Held-back labels count towards N too: a label the guard held back for one step's harm is still a true label,
and the refit weighs it with all the others.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth import get_user_model

from annotations.learning import replay, suspicious
from annotations.learning.writer import single_writer
from annotations.models import Annotation
from infantino_site.jobs import enqueue
from modelops.models import ModelChange
from modelops.services import live_version_move
from predictions import ml

logger = logging.getLogger(__name__)

JOB = "annotations.tasks.consolidate"


def consolidate(*, user_id: int | None = None, when_due: bool = False) -> str | None:
    """Consolidate now (``when_due``: only if still due), then flag suspect labels; returns the version made."""
    with single_writer():
        every = settings.INFANTINO_CONSOLIDATE_EVERY
        if when_due and (every <= 0 or labels_since_consolidation() < every):
            return None  # another consolidation went live since this one was queued
        version = consolidate_locked(user_id=user_id)
        if version is not None:
            suspicious.suspects_flag(version=version)
        return version


def consolidate_locked(*, user_id: int | None = None) -> str | None:
    """Refit, register and judge a consolidated version; live if the guard passes. None with no label to refit on."""
    started = time.monotonic()
    parent = ml.backend().live_version()
    if parent is None:
        return None  # no model is live: there is no line to consolidate
    labels = replay.earlier_labels(extractor_id=ml.backend().extractor_id(parent), exclude_image=None)
    count = 0 if labels.y is None else len(labels.y)
    if not count:
        logger.info("nothing to consolidate: no label was learned under version %s's extractor", parent)
        return None
    made = ml.backend().consolidate(parent=parent, labels=labels, seed=int(parent))
    if made.accepted:
        user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
        live_version_move(
            version=made.version,
            action=ModelChange.Action.CONSOLIDATE,
            user=user,
            by="" if user is not None else "consolidation",
            reason=f"refitted on {count} labels and the replay pool; guard: {made.guard}",
            extra={"labels": count},
        )
    logger.info(
        "consolidation of version %s on %d labels → version %s, %s, %.0f ms",
        parent,
        count,
        made.version,
        "live" if made.accepted else f"held back ({made.guard})",
        1000 * (time.monotonic() - started),
    )
    return made.version


def labels_since_consolidation() -> int:
    """Images settled (learned or held back) since the last consolidation that went live.

    Each settled image made one version of its own, and versions are numbered in order, so those made
    after the consolidated one are the images it has not seen.
    """
    last = ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).order_by("-id").first()
    since = int(last.version) if last is not None and last.version.isdigit() else 0
    made = Annotation.objects.filter(status__in=Annotation.COUNTED).values_list("model_version", flat=True).distinct()
    return sum(1 for version in made if version.isdigit() and int(version) > since)


def consolidate_when_due(*, version: str | None) -> None:
    """After a label's job: queue a consolidation when its image was the N-th settled since the last one."""
    every = settings.INFANTINO_CONSOLIDATE_EVERY
    if not version or every <= 0:
        return
    if not Annotation.objects.filter(model_version=version, status__in=Annotation.COUNTED).exists():
        return  # waiting for more votes, or joined an image settled before: no image settled now
    count = labels_since_consolidation()
    if count and count % every == 0:
        enqueue(JOB, when_due=True)  # a held-back consolidation is tried again N labels later
