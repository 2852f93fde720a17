"""Labels likely wrong, sent back to the queue for a second annotator (confident learning), after a consolidation.

Scored after each consolidation, not after every label: cross-fitting fits several quick heads on every label
plus the replay pool (seconds), while one label's update must stay near 100 ms under the writer lock; and one
more label barely moves the others' out-of-sample probabilities, so scoring every N labels finds the same
mistakes, N times cheaper.

A flagged label goes back to ``queued`` with its note and time, as an undone label does: it stops settling
its image, so the image returns to the queue of everyone who has not labeled it, leaves the replay set and the
next consolidation, and its consensus waits for a second label (``agreement.labels_needed``). Agreeing, the
two labels are learned together; disagreeing, a third annotator or an adjudicator decides. Each image is sent
back once at most, and an image two people agreed on, or that an adjudicator decided, never is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.db.models import Count
from django.utils import timezone

from annotations.models import Adjudication, Annotation
from predictions import ml
from predictions.selectors import predictions_usable_for_learning

logger = logging.getLogger(__name__)

SUSPECTS_PER_ROUND = 3  # a second annotator's time is precious: only the clearest few each round
CLEAR_BELOW = 0.15  # sent back only when the given label's out-of-sample probability is at most this


@dataclass(frozen=True)
class Scored:
    """The labels scored: one row per image, with the annotation that may be sent back (None: never)."""

    annotation_ids: list[int | None]
    x: np.ndarray
    labels: list[str]


def suspects_flag(*, version: str) -> list[int]:
    """Score every label learned under ``version``'s extractor; send the likeliest mistakes back; their ids."""
    learned = learned_labels(extractor_id=ml.backend().extractor_id(version))
    if len(learned.labels) < 2:
        return []
    issues = ml.backend().label_issues(
        version=version, labels=ml.Replay(x=learned.x, y=ml.labels_to_indices(learned.labels)), seed=int(version)
    )
    flagged: list[int] = []
    for issue in issues:  # lowest out-of-sample probability of the given label first
        if issue.given_probability > CLEAR_BELOW or len(flagged) == SUSPECTS_PER_ROUND:
            break
        annotation_id = learned.annotation_ids[issue.index]
        if annotation_id is not None and _send_back(annotation_id, note=suspect_note(issue)):
            flagged.append(annotation_id)
    if flagged:
        logger.info("labels %s sent back for a second annotator (version %s)", flagged, version)
    return flagged


def suspect_note(issue: ml.LabelIssue) -> str:
    """Why a label was sent back, in the model's words."""
    given, suggested = ml.LABELS[issue.given], ml.LABELS[issue.suggested]
    return (
        f"the model gives '{given}' {round(100 * issue.given_probability)} % out of sample; "
        f"it says '{suggested}' {round(100 * issue.suggested_probability)} %"
    )


def learned_labels(*, extractor_id: str) -> Scored:
    """Every image's settled label with its embedding under ``extractor_id`` (as replay has them)."""
    rows = (
        Annotation.objects.filter(status__in=Annotation.COUNTED, image__embeddings__extractor_id=extractor_id)
        .filter(image__in=predictions_usable_for_learning())
        .order_by("image_id", "id")
        .values_list("pk", "image_id", "label", "image__embeddings__vector")
    )
    seen: dict[object, tuple[int, str, bytes]] = {}
    for pk, image_id, label, vector in rows:
        seen.setdefault(image_id, (pk, label, bytes(vector)))
    if not seen:
        return Scored(annotation_ids=[], x=np.empty((0, 0), dtype=np.float32), labels=[])
    never = _never_sent_back(list(seen))
    return Scored(
        annotation_ids=[None if image_id in never else pk for image_id, (pk, _, _) in seen.items()],
        x=np.stack([np.frombuffer(vector, dtype=np.float32) for _, _, vector in seen.values()]),
        labels=[label for _, label, _ in seen.values()],
    )


def _never_sent_back(image_ids: list[object]) -> set[object]:
    """Images settled by two agreeing labels or an adjudicator, or sent back once already."""
    agreed = (
        Annotation.objects.filter(image_id__in=image_ids, status__in=Annotation.COUNTED)
        .values("image_id")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
        .values_list("image_id", flat=True)
    )
    decided = Adjudication.objects.filter(image_id__in=image_ids).values_list("image_id", flat=True)
    before = Annotation.objects.filter(image_id__in=image_ids, suspect_since__isnull=False).values_list(
        "image_id", flat=True
    )
    return {*agreed, *decided, *before}


def _send_back(annotation_id: int, *, note: str) -> bool:
    """Queue the label again, noted as suspect (the caller holds the writer lock); False if it changed meanwhile."""
    return bool(
        Annotation.objects.filter(pk=annotation_id, status__in=Annotation.COUNTED).update(
            status=Annotation.Status.QUEUED,
            model_version="",
            parent_version="",
            guard_note="",
            suspect_note=note[:300],
            suspect_since=timezone.now(),
        )
    )
