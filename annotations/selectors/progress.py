"""How far the project is: images decided, still waiting, set aside as unusable, and one annotator's share."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from annotations.models import Annotation, QueueSkip
from annotations.selectors.votes import decided_labels, settled_labels
from predictions.selectors import predictions_shared, predictions_usable_for_learning


@dataclass(frozen=True)
class LabelingProgress:
    total: int  # images usable for learning
    labeled: int  # of those, decided: learned, adjudicated, or with a majority waiting for the writer
    unusable: int  # shared images marked "no usable face" or "not an infant" (not in total)
    mine: int  # labels this annotator gave
    skipped: int  # images this annotator skipped

    @property
    def remaining(self) -> int:
        return self.total - self.labeled

    @property
    def percent(self) -> int:
        return round(100 * self.labeled / self.total) if self.total else 0


def labeling_progress(*, annotator: AbstractBaseUser) -> LabelingProgress:
    usable = set(predictions_usable_for_learning().values_list("pk", flat=True))
    decided = set(settled_labels()) | set(decided_labels())
    return LabelingProgress(
        total=len(usable),
        labeled=len(usable & decided),
        unusable=predictions_shared().exclude(unusable="").count(),
        mine=Annotation.objects.filter(annotator_id=annotator.pk).count(),
        skipped=QueueSkip.objects.filter(annotator_id=annotator.pk).count(),
    )
