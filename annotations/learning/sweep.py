"""Labels whose learn job was lost (a dead worker, retries given up) are queued again."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from annotations.models import Adjudication, Annotation
from common.jobs import enqueue
from predictions.selectors import predictions_usable_for_learning

logger = logging.getLogger(__name__)


def requeue_waiting_labels(*, older_than: float | None = None) -> int:
    """Queue a learn job again for each image whose labels have waited ``older_than`` seconds; returns how many.

    Only images with enough queued labels for a consensus, or an adjudicator's decision, are queued; a job that
    finds its label settled meanwhile does nothing.
    """
    seconds = settings.INFANTINO_RELEARN_AFTER_SECONDS if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=seconds)
    decided = Q(votes__gte=settings.INFANTINO_LABELS_PER_IMAGE) | Q(
        image_id__in=Adjudication.objects.values("image_id")
    )
    waiting = (
        Annotation.objects.filter(status=Annotation.Status.QUEUED, image__in=predictions_usable_for_learning())
        .values("image_id")
        .annotate(votes=Count("id"), first=Min("id"), oldest=Min("created"))
        .filter(decided, oldest__lte=cutoff)
        .order_by("first")
    )
    firsts = [row["first"] for row in waiting]
    for annotation_id in firsts:
        enqueue("annotations.tasks.learn", annotation_id=annotation_id)
    if firsts:
        logger.info("queued %d waiting labels again", len(firsts))
    return len(firsts)
