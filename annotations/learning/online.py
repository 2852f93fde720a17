"""One label in, at most one new version out: lock → consensus (or adjudication) → fit → move the alias → record."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction

from annotations.agreement import consensus, labels_needed
from annotations.learning import lineage, replay
from annotations.learning.consolidate import consolidate_when_due
from annotations.learning.writer import LabelWaits, single_writer
from annotations.models import Adjudication, Annotation
from modelops.models import ModelChange
from modelops.services import live_version_move, move_record, retrain_when_due
from predictions import ml
from predictions.selectors import prediction_get_for_learning

logger = logging.getLogger(__name__)


def learn_from_annotation(*, annotation_id: int) -> str | None:
    """Learn the image of ``annotation_id`` if its consensus is reached; returns the new version, if any."""
    with single_writer():
        version = learn_locked(annotation_id)
    # Outside the lock: an inline job runner runs the consolidation at once, and it takes the lock itself.
    consolidate_when_due(version=version)
    if version:
        retrain_when_due()  # every INFANTINO_RETRAIN_EVERY labeled images: the extractor learns them too
    return version


def learn_locked(annotation_id: int) -> str | None:
    """``learn_from_annotation`` for a caller that holds the writer lock already (undo re-learning)."""
    annotation = Annotation.objects.select_related("image").filter(pk=annotation_id).first()
    if annotation is None or annotation.status != Annotation.Status.QUEUED:
        return None  # undone meanwhile, or already settled with its image
    if prediction_get_for_learning(prediction_id=str(annotation.image_id)) is None:
        return None  # its parent stopped sharing the photo: the label waits, unlearned, until they share it again
    if _joined_settled_image(annotation):
        return None
    votes = list(annotation.image.annotations.filter(status=Annotation.Status.QUEUED))
    label = _decided(annotation.image_id, votes)
    if label is None:
        return None  # waits for more annotators
    parent = ml.backend().live_version()
    if parent is None:
        raise LabelWaits(f"annotation {annotation_id} waits: no live model to learn onto, or MLflow is unreachable")
    # Whichever vote's job runs, the first agreeing vote stands for the image: its noted version is what
    # tells a re-run that the image was learned already.
    anchor = next(vote for vote in votes if vote.label == label)
    made_before = lineage.made_before(anchor, live=parent)
    if made_before is not None:
        return _record_interrupted(made_before, votes=votes)
    return _learn(anchor, votes=votes, label=label, parent=parent)


def _decided(image_id: object, votes: list[Annotation]) -> str | None:
    """An adjudicator's decision settles the image at once; without one, a majority once enough people labeled."""
    adjudicated = Adjudication.objects.filter(image_id=image_id).values_list("label", flat=True).first()
    if adjudicated is not None:
        return adjudicated if any(vote.label == adjudicated for vote in votes) else None
    suspect = any(vote.suspect_since is not None for vote in votes)  # sent back: waits for a second opinion
    needed = labels_needed(per_image=settings.INFANTINO_LABELS_PER_IMAGE, suspect=suspect)
    return consensus([vote.label for vote in votes], needed=needed)


def _joined_settled_image(annotation: Annotation) -> bool:
    """A label for an image learned already joins it or is outvoted, never learned twice."""
    settled = annotation.image.annotations.filter(status__in=Annotation.COUNTED).first()
    if settled is None:
        return False
    status = settled.status if annotation.label == settled.label else Annotation.Status.OUTVOTED
    Annotation.objects.filter(pk=annotation.pk).update(
        status=status, model_version=settled.model_version, parent_version=settled.parent_version
    )
    return True


def _learn(annotation: Annotation, *, votes: list[Annotation], label: str, parent: str) -> str:
    started = time.monotonic()
    image = annotation.image
    agreeing = tuple(vote.pk for vote in votes if vote.label == label)
    extractor_id = ml.backend().extractor_id(parent)
    learned = ml.backend().learn(
        ml.LabelToLearn(
            image_id=image.pk,
            vector=replay.image_embedding(image, version=parent, extractor_id=extractor_id),
            label=label,
            annotation_ids=agreeing,
            seed=annotation.pk,
            replay=replay.earlier_labels(extractor_id=extractor_id, exclude_image=image),
        ),
        parent=parent,
    )
    # Noted (the labels stay queued) before the alias moves, so that a re-run knows which version they made.
    Annotation.objects.filter(pk__in=agreeing, status=Annotation.Status.QUEUED).update(
        model_version=learned.version, parent_version=parent
    )
    made = lineage.Made(
        version=learned.version, parent=parent, label=label, annotation_ids=frozenset(agreeing), guard=learned.guard
    )
    if learned.accepted:
        _go_live(made)
    _record(made, votes=votes, accepted=learned.accepted)
    logger.info(
        "annotation %s (%s) → version %s, %s, %.0f ms",
        annotation.pk,
        label,
        learned.version,
        "learned" if learned.accepted else f"held back ({learned.guard})",
        1000 * (time.monotonic() - started),
    )
    return learned.version


def _go_live(made: lineage.Made) -> None:
    live_version_move(
        version=made.version,
        action=ModelChange.Action.LEARN,
        by=f"annotation {_ids(made)}",
        reason=_why(made),
        extra={"label": made.label},
    )


def _record_interrupted(version: str, *, votes: list[Annotation]) -> str:
    """An earlier run made a live-line version from these labels, then stopped before recording it."""
    made = lineage.made(version)
    if not ModelChange.objects.filter(version=version, action=ModelChange.Action.LEARN).exists():
        # It stopped between moving the alias and the audit row: the move is recorded now.
        move_record(version=version, previous=made.parent, action=ModelChange.Action.LEARN, reason=_why(made))
    _record(made, votes=votes, accepted=True)
    logger.info("the labels of version %s were learned into the live line already: recorded", version)
    return version


def _ids(made: lineage.Made) -> str:
    return ",".join(str(pk) for pk in sorted(made.annotation_ids))


def _why(made: lineage.Made) -> str:
    return f"learned '{made.label}' from annotation {_ids(made)}; guard: {made.guard}"


def _record(made: lineage.Made, *, votes: list[Annotation], accepted: bool) -> None:
    """Write what became of an image's queued labels once ``made.version`` was made from them."""
    status = Annotation.Status.LEARNED if accepted else Annotation.Status.HELD_BACK
    outvoted = [vote.pk for vote in votes if vote.pk not in made.annotation_ids and vote.label != made.label]
    with transaction.atomic():
        Annotation.objects.filter(pk__in=made.annotation_ids, status=Annotation.Status.QUEUED).update(
            status=status, model_version=made.version, parent_version=made.parent, guard_note=made.guard[:500]
        )
        Annotation.objects.filter(pk__in=outvoted).update(
            status=Annotation.Status.OUTVOTED, model_version=made.version, parent_version=made.parent
        )
