"""What one annotator's labels did: the live line's infant accuracy now against when they started, and their labels'
fates (learned, held back and why, flagged as a likely mistake, waiting).

"When they started" is the version that was live at their first label: the last alias move at or before it (the
``ModelChange`` audit), else the version the first move after it replaced, else the version their first label was
learned onto. Accuracies are the versions' own ``infant_accuracy`` metrics, as the dashboard shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from annotations.models import Annotation
from modelops.models import ModelChange
from predictions import ml

RECENT_HELD_BACK = 5  # held-back labels whose reasons the page lists, newest first


@dataclass(frozen=True)
class HeldBackLabel:
    image_id: str
    label: str
    reason: str  # the guard's note: which check failed and by how much
    created: datetime


@dataclass(frozen=True)
class LabelingEffect:
    labels: int  # labels this annotator gave
    learned: int
    held_back: int
    waiting: int  # queued: waiting for consensus or for the learning job
    outvoted: int
    suspect: int  # flagged as a likely mistake and sent back to the queue for a second look
    held_back_recent: list[HeldBackLabel]
    started_version: str | None  # live at their first label; None before their first label
    started_accuracy: float | None  # its infant validation accuracy
    live_version: str | None
    live_accuracy: float | None
    comparable: bool = True  # started and live share an extractor: scored on the same validation photos

    @property
    def change_points(self) -> float | None:
        """Live minus started infant accuracy, in percentage points; None across a retrain."""
        if self.started_accuracy is None or self.live_accuracy is None or not self.comparable:
            return None
        return round(100 * (self.live_accuracy - self.started_accuracy), 1)


def labeling_effect(*, annotator: AbstractBaseUser) -> LabelingEffect:
    mine = Annotation.objects.filter(annotator_id=annotator.pk)
    counts = dict(mine.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))
    first = mine.order_by("created", "id").first()
    started = _live_at(first) if first is not None else None
    live = _live_version()
    held = mine.filter(status=Annotation.Status.HELD_BACK).order_by("-created", "-id")[:RECENT_HELD_BACK]
    return LabelingEffect(
        labels=sum(counts.values()),
        learned=counts.get(Annotation.Status.LEARNED, 0),
        held_back=counts.get(Annotation.Status.HELD_BACK, 0),
        waiting=counts.get(Annotation.Status.QUEUED, 0),
        outvoted=counts.get(Annotation.Status.OUTVOTED, 0),
        suspect=mine.filter(suspect_since__isnull=False).count(),
        held_back_recent=[
            HeldBackLabel(image_id=str(a.image_id), label=a.label, reason=a.guard_note, created=a.created) for a in held
        ],
        started_version=started,
        started_accuracy=_infant_accuracy(started),
        live_version=live,
        live_accuracy=_infant_accuracy(live),
        comparable=_same_extractor(started, live),
    )


def _live_at(first: Annotation) -> str | None:
    """The version live when ``first`` was given."""
    before = ModelChange.objects.filter(created__lte=first.created).order_by("-created", "-id").first()
    if before is not None:
        return before.version
    after = ModelChange.objects.filter(created__gt=first.created).order_by("created", "id").first()
    if after is not None and after.previous_version:
        return after.previous_version
    return first.parent_version or None


def _live_version() -> str | None:
    try:
        return ml.backend().live_version()
    except ml.ModelUnavailable:
        return None  # MLflow unreachable: the page shows the counts and no accuracy


def _same_extractor(started: str | None, live: str | None) -> bool:
    if not started or not live or started == live:
        return True
    try:
        return ml.backend().extractor_id(started) == ml.backend().extractor_id(live)
    except (ml.UnknownVersion, ml.ModelUnavailable, KeyError):
        return False  # one of them cannot be read: nothing says they were scored alike


def _infant_accuracy(version: str | None) -> float | None:
    if not version:
        return None
    try:
        return ml.backend().version_info(version).scores["infant"].accuracy
    except (ml.UnknownVersion, ml.ModelUnavailable):
        return None
