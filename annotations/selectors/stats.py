"""Per-annotator statistics for staff: how much, how well (agreement with the consensus) and how fast each labels."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from statistics import median

from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts.roles import ANNOTATOR_GROUP
from annotations.models import Annotation, QueueSkip
from annotations.selectors.votes import adjudicated_labels, decided_labels, votes_by_image
from predictions.models import Prediction


@dataclass(frozen=True)
class AnnotatorStats:
    annotator: str
    labels: int
    compared: int  # their labels on images with a consensus another vote or an adjudicator made
    agreed: int  # of those, how many match it
    median_seconds: float | None  # over the labels whose time the page measured
    skips: int
    unusable_marks: int

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def annotator_statistics() -> list[AnnotatorStats]:
    """One row per annotator (and anyone who labeled, skipped or marked a photo), by name."""
    consensus_of = _consensus_by_image()
    labels: Counter[int] = Counter()
    compared: Counter[int] = Counter()
    agreed: Counter[int] = Counter()
    seconds: dict[int, list[float]] = defaultdict(list)
    rows = Annotation.objects.values_list("annotator_id", "image_id", "label", "seconds")
    for user_id, image_id, label, spent in rows:
        labels[user_id] += 1
        if spent is not None:
            seconds[user_id].append(spent)
        if image_id in consensus_of:
            compared[user_id] += 1
            agreed[user_id] += label == consensus_of[image_id]
    skips = Counter(QueueSkip.objects.values_list("annotator_id", flat=True))
    marks = Counter(Prediction.objects.exclude(unusable="").values_list("unusable_by_id", flat=True))
    active = set(labels) | set(skips) | {pk for pk in marks if pk is not None}
    people = get_user_model().objects.filter(Q(groups__name=ANNOTATOR_GROUP) | Q(pk__in=active)).distinct()
    return [
        AnnotatorStats(
            annotator=person.get_username(),
            labels=labels[person.pk],
            compared=compared[person.pk],
            agreed=agreed[person.pk],
            median_seconds=median(seconds[person.pk]) if seconds[person.pk] else None,
            skips=skips[person.pk],
            unusable_marks=marks[person.pk],
        )
        for person in people.order_by("username")
    ]


def _consensus_by_image() -> dict[object, str]:
    """The consensus of each image that has one to compare against: adjudicated, or a majority of two votes or more.

    A lone vote is its own majority: counting it would score everyone 100 %.
    """
    votes = votes_by_image()
    adjudicated = adjudicated_labels()
    return {
        image_id: label
        for image_id, label in decided_labels().items()
        if image_id in adjudicated or len(votes.get(image_id, [])) >= 2
    }
