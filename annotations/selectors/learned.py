"""Which photos some model version learned from: the ones to unlearn when they may not be learned from any more."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from annotations.models import Annotation


def images_learned_from(*, labels: QuerySet[Annotation]) -> list[str]:
    """The photos of ``labels`` that a version learned from: settled (held back or not), or sent back as suspect.

    A suspect label is queued again, yet some version learned from it before it was.
    """
    learned = labels.filter(Q(status__in=Annotation.COUNTED) | Q(suspect_since__isnull=False))
    return sorted({str(pk) for pk in learned.values_list("image_id", flat=True)})
