"""Agreement between annotators, and the conflicts an adjudicator settles."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from annotations.agreement import krippendorff_alpha_nominal, pairwise_agreement
from annotations.models import Adjudication
from annotations.selectors.blind import blindness_for
from annotations.selectors.votes import decided_labels, majority, settled_labels, votes_by_image
from predictions.models import Prediction
from predictions.selectors import predictions_usable_for_learning


@dataclass(frozen=True)
class ImageAgreement:
    image: Prediction
    labels: list[dict[str, str]]
    agreement: float | None
    consensus: str | None  # the label that decided it (annotations.consensus.decided_label), if any


@dataclass(frozen=True)
class AgreementSummary:
    alpha: float | None  # Krippendorff's alpha (nominal) over images with two labels or more
    images_labeled: int
    images_multiply_labeled: int
    conflicts: list[ImageAgreement]  # images whose annotators disagree, most recent first


def agreement_summary(*, conflicts_limit: int = 20) -> AgreementSummary:
    by_image = votes_by_image()
    alpha = krippendorff_alpha_nominal([[lab["label"] for lab in labels] for labels in by_image.values()])
    conflicted = [image_id for image_id, labels in by_image.items() if len({lab["label"] for lab in labels}) > 1]
    # Shown with their photos: only those annotators may see.
    images = list(predictions_usable_for_learning().filter(pk__in=conflicted).order_by("-created")[:conflicts_limit])
    decided = decided_labels([image.pk for image in images])
    conflicts = [
        ImageAgreement(
            image=image,
            labels=by_image[image.pk],
            agreement=pairwise_agreement([lab["label"] for lab in by_image[image.pk]]),
            consensus=decided.get(image.pk),
        )
        for image in images
    ]
    return AgreementSummary(
        alpha=alpha,
        images_labeled=len(by_image),
        images_multiply_labeled=sum(1 for labels in by_image.values() if len(labels) > 1),
        conflicts=conflicts,
    )


@dataclass(frozen=True)
class Conflict:
    image: Prediction
    votes: list[dict[str, str]]  # every vote: annotator and label
    agreement: float | None
    majority: str | None  # the label a strict majority gave, if any
    learned: str | None  # the label online learning settled it with already, if any
    guess: str | None  # the model's guess when the photo was uploaded; None in blind mode

    @property
    def choices(self) -> list[str]:
        """The labels the annotators gave: an adjudicator decides between them."""
        return sorted({vote["label"] for vote in self.votes})


def conflicts_to_settle(*, viewer: AbstractBaseUser, limit: int = 50) -> list[Conflict]:
    """Shared images whose votes differ (so no clear majority) and no adjudicator has decided, newest first."""
    by_image = votes_by_image()
    conflicted = [image_id for image_id, labels in by_image.items() if len({lab["label"] for lab in labels}) > 1]
    images = (
        predictions_usable_for_learning()
        .filter(pk__in=conflicted)
        .exclude(pk__in=Adjudication.objects.values("image_id"))
        .order_by("-created")[:limit]
    )
    learned = settled_labels()
    blind = blindness_for(viewer).blind
    return [
        Conflict(
            image=image,
            votes=by_image[image.pk],
            agreement=pairwise_agreement([vote["label"] for vote in by_image[image.pk]]),
            majority=majority(by_image[image.pk]),
            learned=learned.get(image.pk),
            guess=None if blind else image.top_label,
        )
        for image in images
    ]


def adjudications_recent(*, limit: int = 20) -> list[Adjudication]:
    """The latest decisions, with who decided: the audit trail shown beside the conflicts."""
    return list(Adjudication.objects.select_related("adjudicator")[:limit])
