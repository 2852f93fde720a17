"""The labeling queue: images of suspect labels first, then the most uncertain under live, diverse."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from annotations.agreement import consensus, labels_needed, pairwise_agreement
from annotations.models import Annotation
from annotations.selectors.blind import blindness_for
from annotations.selectors.votes import votes_by_image
from predictions import ml
from predictions.models import Expression, ImageEmbedding, Prediction
from predictions.selectors import predictions_usable_for_learning

CANDIDATE_LIMIT = 1000
DIVERSITY_WEIGHT = 0.5  # how much a close look-alike of an already picked image costs it
NEAR_DUPLICATE = 0.98  # cosine similarity above which an image waits until the queue has nothing else


@dataclass(frozen=True)
class QueueItem:
    image: Prediction
    # The model's view; None in blind mode, so that it never reaches the person's browser.
    probabilities: dict[str, float] | None
    guess: str | None
    uncertainty: float | None
    model_version: str
    labels: list[dict[str, str]]  # labels others gave already (shown, so conflicts are visible)
    agreement: float | None
    suspect: bool = False  # a label it was learned with looks wrong: it waits for a second annotator
    suspect_note: str = ""  # why (the model's view: empty in blind mode)


def queue_next(*, annotator: AbstractBaseUser, n: int = 10, exclude: list[str] | None = None) -> list[QueueItem]:
    """The ``n`` shared images most worth labeling next for ``annotator``: most uncertain under live, diverse.

    Left out: images they labeled or skipped, images settled, decided by an adjudicator or marked unusable,
    and ``exclude`` (ids an older page still sends). Images whose label was sent back as suspect come first.
    """
    settled = Annotation.objects.filter(status__in=Annotation.COUNTED)
    candidates = (
        predictions_usable_for_learning()
        .exclude(annotations__annotator=annotator)
        .exclude(skips__annotator=annotator)
        .exclude(adjudication__isnull=False)
        .exclude(pk__in=settled.values("image_id"))
        .exclude(pk__in=[pk for pk in exclude or [] if _is_uuid(pk)])
        .annotate(n_labels=Count("annotations"))
        .order_by("-created")[:CANDIDATE_LIMIT]
    )
    candidates = list(candidates)
    labels_by_image = votes_by_image([c.pk for c in candidates if c.n_labels])
    suspects = _suspect_notes([c.pk for c in candidates if c.n_labels])
    # Images whose labels already decide them only wait for the writer: nobody needs to see them again.
    candidates = [c for c in candidates if _undecided(labels_by_image.get(c.pk, []), suspect=c.pk in suspects)]
    if not candidates:
        return []
    probabilities, version, vectors = _live_view(candidates)
    uncertainty = ml.normalised_entropy(probabilities)
    first = [i for i, c in enumerate(candidates) if c.pk in suspects][:n]
    rest = _diverse_order(uncertainty, vectors, n)  # blind or not, the order is the same
    picked = (first + [i for i in rest if i not in first])[:n]
    blind = blindness_for(annotator).blind
    items = []
    for i in picked:
        image = candidates[i]
        labels = labels_by_image.get(image.pk, [])
        items.append(
            QueueItem(
                image=image,
                probabilities=None
                if blind
                else {label: float(p) for label, p in zip(Expression.values, probabilities[i], strict=True)},
                guess=None if blind else Expression.values[int(np.argmax(probabilities[i]))],
                uncertainty=None if blind else float(uncertainty[i]),
                model_version=version,
                labels=labels,
                agreement=pairwise_agreement([lab["label"] for lab in labels]),
                suspect=image.pk in suspects,
                suspect_note="" if blind else suspects.get(image.pk, ""),
            )
        )
    return items


def _suspect_notes(image_ids: list[object]) -> dict[object, str]:
    """The images among ``image_ids`` whose label was sent back as suspect and is unsettled, with why."""
    sent_back = Annotation.objects.filter(
        image_id__in=image_ids, status=Annotation.Status.QUEUED, suspect_since__isnull=False
    )
    return dict(sent_back.values_list("image_id", "suspect_note"))


def _undecided(labels: list[dict[str, str]], *, suspect: bool) -> bool:
    """Whether the labels in do not decide the image yet (a suspect one needs two: ``labels_needed``)."""
    needed = labels_needed(per_image=settings.INFANTINO_LABELS_PER_IMAGE, suspect=suspect)
    return consensus([vote["label"] for vote in labels], needed=needed) is None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


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
