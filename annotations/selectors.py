"""Reads for labeling: the queue (uncertain first, diverse), an annotation, agreement between annotators."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from accounts.roles import is_admin
from annotations.agreement import consensus, krippendorff_alpha_nominal, pairwise_agreement
from annotations.models import Annotation
from predictions import ml
from predictions.models import Expression, ImageEmbedding, Prediction
from predictions.selectors import predictions_usable_for_learning

CANDIDATE_LIMIT = 1000
DIVERSITY_WEIGHT = 0.5  # how much a close look-alike of an already picked image costs it
NEAR_DUPLICATE = 0.98  # cosine similarity above which an image waits until the queue has nothing else


@dataclass(frozen=True)
class QueueItem:
    image: Prediction
    probabilities: dict[str, float]
    guess: str
    uncertainty: float
    model_version: str
    labels: list[dict[str, str]]  # labels others gave already (shown, so conflicts are visible)
    agreement: float | None


def annotation_get_visible(*, annotation_id: int, user: AbstractBaseUser) -> Annotation | None:
    """None for someone else's label (unless admin), exactly as for one that does not exist."""
    annotations = Annotation.objects.all() if is_admin(user) else Annotation.objects.filter(annotator_id=user.pk)
    return annotations.filter(pk=annotation_id).first()


def queue_next(*, annotator: AbstractBaseUser, n: int = 10, exclude: list[str] | None = None) -> list[QueueItem]:
    """The ``n`` shared images most worth labeling next for ``annotator``: most uncertain under live, diverse."""
    needed = settings.INFANTINO_LABELS_PER_IMAGE
    settled = Annotation.objects.filter(status__in=Annotation.COUNTED)
    candidates = (
        predictions_usable_for_learning()
        .exclude(annotations__annotator=annotator)
        .exclude(pk__in=settled.values("image_id"))
        .exclude(pk__in=[pk for pk in exclude or [] if _is_uuid(pk)])
        .annotate(n_labels=Count("annotations"))
        .order_by("-created")[:CANDIDATE_LIMIT]
    )
    candidates = list(candidates)
    labels_by_image = _labels_by_image([c.pk for c in candidates if c.n_labels])
    # Images whose labels already decide them only wait for the writer: nobody needs to see them again.
    candidates = [
        c
        for c in candidates
        if consensus([lab["label"] for lab in labels_by_image.get(c.pk, [])], needed=needed) is None
    ]
    if not candidates:
        return []
    probabilities, version, vectors = _live_view(candidates)
    uncertainty = ml.normalised_entropy(probabilities)
    picked = _diverse_order(uncertainty, vectors, n)
    items = []
    for i in picked:
        image = candidates[i]
        labels = labels_by_image.get(image.pk, [])
        items.append(
            QueueItem(
                image=image,
                probabilities={label: float(p) for label, p in zip(Expression.values, probabilities[i], strict=True)},
                guess=Expression.values[int(np.argmax(probabilities[i]))],
                uncertainty=float(uncertainty[i]),
                model_version=version,
                labels=labels,
                agreement=pairwise_agreement([lab["label"] for lab in labels]),
            )
        )
    return items


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _labels_by_image(image_ids: list[object]) -> dict[object, list[dict[str, str]]]:
    found: dict[object, list[dict[str, str]]] = defaultdict(list)
    for image_id, label, username in Annotation.objects.filter(image_id__in=image_ids).values_list(
        "image_id", "label", "annotator__username"
    ):
        found[image_id].append({"label": label, "annotator": username})
    return found


def _live_view(candidates: list[Prediction]) -> tuple[np.ndarray, str, np.ndarray | None]:
    """Probabilities under the live model (from cached embeddings), its version, and the embeddings."""
    stored = np.array([[c.probabilities.get(label, 0.0) for label in Expression.values] for c in candidates])
    try:
        model = ml.backend().served()
    except ml.ModelUnavailable:
        return stored, "", None
    rows = dict(
        ImageEmbedding.objects.filter(prediction__in=candidates, extractor_id=model.extractor_id).values_list(
            "prediction_id", "vector"
        )
    )
    if not rows:
        return stored, model.version, None
    vectors = np.zeros(
        (len(candidates), len(np.frombuffer(bytes(next(iter(rows.values()))), dtype=np.float32))), dtype=np.float32
    )
    have = np.zeros(len(candidates), dtype=bool)
    for i, candidate in enumerate(candidates):
        if candidate.pk in rows:
            vectors[i] = np.frombuffer(bytes(rows[candidate.pk]), dtype=np.float32)
            have[i] = True
    probabilities = stored.copy()
    probabilities[have] = model.probabilities(vectors[have])
    return probabilities, model.version, vectors


def _diverse_order(uncertainty: np.ndarray, vectors: np.ndarray | None, n: int) -> list[int]:
    """Greedy: the most uncertain first, each next one penalised by its similarity to those already picked."""
    n = min(n, len(uncertainty))
    if vectors is None:
        return [int(i) for i in np.argsort(-uncertainty, kind="stable")[:n]]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    closest = np.full(len(uncertainty), -1.0)  # highest similarity to anything picked so far
    available = np.ones(len(uncertainty), dtype=bool)
    picked: list[int] = []
    for _ in range(n):
        penalty = DIVERSITY_WEIGHT * np.clip(closest, 0.0, 1.0)
        score = uncertainty - penalty - 10.0 * (closest >= NEAR_DUPLICATE)
        score[~available] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        available[best] = False
        closest = np.maximum(closest, unit @ unit[best])
    return picked


@dataclass(frozen=True)
class ImageAgreement:
    image: Prediction
    labels: list[dict[str, str]]
    agreement: float | None
    consensus: str | None


@dataclass(frozen=True)
class AgreementSummary:
    alpha: float | None  # Krippendorff's alpha (nominal) over images with two labels or more
    images_labeled: int
    images_multiply_labeled: int
    conflicts: list[ImageAgreement]  # images whose annotators disagree, most recent first


def agreement_summary(*, conflicts_limit: int = 20) -> AgreementSummary:
    needed = settings.INFANTINO_LABELS_PER_IMAGE
    by_image: dict[object, list[dict[str, str]]] = defaultdict(list)
    for image_id, label, username in Annotation.objects.values_list("image_id", "label", "annotator__username"):
        by_image[image_id].append({"label": label, "annotator": username})
    alpha = krippendorff_alpha_nominal([[lab["label"] for lab in labels] for labels in by_image.values()])
    conflicted = [image_id for image_id, labels in by_image.items() if len({lab["label"] for lab in labels}) > 1]
    # Shown with their photos: only those annotators may see.
    images = predictions_usable_for_learning().filter(pk__in=conflicted).order_by("-created")[:conflicts_limit]
    conflicts = []
    for image in images:
        labels = by_image[image.pk]
        values = [lab["label"] for lab in labels]
        conflicts.append(
            ImageAgreement(
                image=image,
                labels=labels,
                agreement=pairwise_agreement(values),
                consensus=consensus(values, needed=needed),
            )
        )
    return AgreementSummary(
        alpha=alpha,
        images_labeled=len(by_image),
        images_multiply_labeled=sum(1 for labels in by_image.values() if len(labels) > 1),
        conflicts=conflicts,
    )
