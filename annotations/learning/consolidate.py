"""Consolidation of the live line: the head refitted on every settled label, as a new version, guarded.

Every update is already a refit of the anchor's correction on every label the line holds (``online``), so the
line cannot drift from what its labels say. Every ``INFANTINO_CONSOLIDATE_EVERY`` settled images, and on demand
from the dashboard, the consolidation refits on every settled label, those the guard held back too, and the alias
service makes it live if the guard passes: the held-back labels are then learned. Then every label is scored for
label noise and the likeliest mistakes go back to the queue, for a second annotator.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth import get_user_model

from annotations.learning import replay, suspicious
from annotations.learning.writer import single_writer
from annotations.models import Annotation
from common.jobs import enqueue
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
        made = consolidate_locked(user_id=user_id)
        if made is None:
            return None
        if made.accepted:
            suspicious.suspects_flag(version=made.version)
        return made.version


def consolidate_locked(*, user_id: int | None = None) -> ml.Learned | None:
    """Refit, register and judge a consolidated version; live if the guard passes. None with no label to refit on."""
    started = time.monotonic()
    parent = ml.backend().live_version()
    if parent is None:
        return None  # no model is live: there is no line to consolidate
    labels = replay.labeled(extractor_id=ml.backend().extractor_id(parent))
    count = len(labels.images)
    if not count:
        logger.info("nothing to consolidate: no label was learned under version %s's extractor", parent)
        return None
    made = ml.backend().consolidate(parent=parent, labels=labels.rows, seed=int(parent))
    if made.accepted:
        user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
        live_version_move(
            version=made.version,
            action=ModelChange.Action.CONSOLIDATE,
            user=user,
            by="" if user is not None else "consolidation",
            reason=f"refitted on {count} labels; guard: {made.guard}",
            extra={"labels": count},
        )
        # Every settled label is in the version now live, those the guard held back before too.
        Annotation.objects.filter(status=Annotation.Status.HELD_BACK, image_id__in=labels.images).update(
            status=Annotation.Status.LEARNED, model_version=made.version, parent_version=parent, guard_note=""
        )
    logger.info(
        "consolidation of version %s on %d labels → version %s, %s, %.0f ms",
        parent,
        count,
        made.version,
        "live" if made.accepted else f"held back ({made.guard})",
        1000 * (time.monotonic() - started),
    )
    return made


def labels_since_consolidation() -> int:
    """Images settled (learned or held back) from labels given since the last consolidation that went live."""
    last = ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).order_by("-id").first()
    settled = Annotation.objects.filter(status__in=Annotation.COUNTED)
    if last is not None:
        settled = settled.filter(created__gt=last.created)
    return settled.values("image_id").distinct().count()


def consolidate_when_due(*, version: str | None) -> None:
    """After a label's job: queue a consolidation once N images settled since the last one.

    At least N, not exactly N: an update learns every image decided meanwhile, so the count jumps; a consolidation
    queued but not yet run finds itself due and runs once, the others find it done (``consolidate``)."""
    every = settings.INFANTINO_CONSOLIDATE_EVERY
    if not version or every <= 0:
        return
    if labels_since_consolidation() >= every:
        enqueue(JOB, when_due=True)  # a held-back consolidation is tried again by the next label's job
