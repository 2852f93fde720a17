"""Labels in, at most one new version out: lock → every image decided meanwhile → fit → move the alias → record.

Labels arrive in bursts (an import, several annotators, a script), faster than one update each. So the job of any
label learns every image that is decided and waiting when it gets the writer lock, in one update and one version
whose lineage names every annotation; the jobs of the labels it took find them settled and do nothing. A burst of
a hundred labels makes a handful of versions, and a consolidation, an unlearning or a retrain queued behind it
waits for a few updates, not a hundred.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import transaction

from annotations.consensus import decided_label
from annotations.learning import lineage, replay
from annotations.learning.consolidate import consolidate_when_due
from annotations.learning.writer import LabelWaits, single_writer
from annotations.models import Adjudication, Annotation
from modelops.models import ModelChange
from modelops.services import live_version_move, move_record, retrain_when_due
from predictions import ml
from predictions.selectors import prediction_get_for_learning, predictions_usable_for_learning

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decided:
    """One image whose label is decided: its queued votes, the label, and the votes that agree with it."""

    image_id: object
    votes: tuple[Annotation, ...]
    label: str

    @property
    def agreeing(self) -> tuple[int, ...]:
        return tuple(vote.pk for vote in self.votes if vote.label == self.label)


def learn_from_annotation(*, annotation_id: int) -> str | None:
    """Learn the image of ``annotation_id`` (and every other image decided meanwhile); returns the new version."""
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
        return None  # undone meanwhile, or already settled with its image (by its own job or another's batch)
    if prediction_get_for_learning(prediction_id=str(annotation.image_id)) is None:
        return None  # its parent stopped sharing the photo: the label waits, unlearned, until they share it again
    first = _decided_now(annotation.image_id)
    if first is None:
        return None  # waits for more annotators, or joined an image settled before
    parent = ml.backend().live_version()
    if parent is None:
        raise LabelWaits(f"annotation {annotation_id} waits: no live model to learn onto, or MLflow is unreachable")
    batch = [first, *_others_decided(exclude=annotation.image_id)]
    fresh, recorded = [], None
    for decided in batch:
        # The first agreeing vote's noted version tells a re-run that its image was learned already.
        anchor_vote = next(vote for vote in decided.votes if vote.label == decided.label)
        made_before = lineage.made_before(anchor_vote, live=parent)
        if made_before is not None:
            recorded = _record_interrupted(made_before, decided)
        else:
            fresh.append(decided)
    return _learn(fresh, parent=parent) if fresh else recorded


def _decided_now(image_id: object) -> Decided | None:
    """The image's decision if its queued votes reach one now; None while it waits (or after it joined a settled
    image: a label for an image learned already joins it or is outvoted, never learned twice)."""
    votes = tuple(Annotation.objects.filter(image_id=image_id, status=Annotation.Status.QUEUED).order_by("id"))
    if not votes:
        return None
    settled = Annotation.objects.filter(image_id=image_id, status__in=Annotation.COUNTED).first()
    if settled is not None:
        for vote in votes:
            status = settled.status if vote.label == settled.label else Annotation.Status.OUTVOTED
            Annotation.objects.filter(pk=vote.pk).update(
                status=status, model_version=settled.model_version, parent_version=settled.parent_version
            )
        return None
    label = _decided(image_id, list(votes))
    return None if label is None else Decided(image_id=image_id, votes=votes, label=label)


def _others_decided(*, exclude: object) -> list[Decided]:
    """Every other image with queued labels whose decision is reached, oldest label first."""
    waiting = (
        Annotation.objects.filter(status=Annotation.Status.QUEUED, image__in=predictions_usable_for_learning())
        .exclude(image_id=exclude)
        .order_by("id")
        .values_list("image_id", flat=True)
    )
    found = []
    for image_id in dict.fromkeys(waiting):
        decided = _decided_now(image_id)
        if decided is not None:
            found.append(decided)
    return found


def _decided(image_id: object, votes: list[Annotation]) -> str | None:
    """The label the queued votes decide (``annotations.consensus``: the one rule export and statistics use too)."""
    adjudicated = Adjudication.objects.filter(image_id=image_id).values_list("label", flat=True).first()
    suspect = any(vote.suspect_since is not None for vote in votes)  # sent back: waits for a second opinion
    return decided_label([vote.label for vote in votes], adjudicated=adjudicated, suspect=suspect)


def _learn(batch: list[Decided], *, parent: str) -> str:
    started = time.monotonic()
    backend = ml.backend()
    extractor_id = backend.extractor_id(parent)
    images = [decided.image_id for decided in batch]
    pictures = {str(p.pk): p for p in predictions_usable_for_learning().filter(pk__in=images)}
    new = tuple(
        ml.LabelToLearn(
            image_id=decided.image_id,
            vector=replay.image_embedding(pictures[str(decided.image_id)], version=parent, extractor_id=extractor_id),
            label=decided.label,
            annotation_ids=decided.agreeing,
        )
        for decided in batch
    )
    learned = replay.labeled(extractor_id=extractor_id, statuses=(Annotation.Status.LEARNED,), exclude_images=images)
    waiting = replay.labeled(extractor_id=extractor_id, statuses=(Annotation.Status.HELD_BACK,), exclude_images=images)
    made = backend.learn(ml.LabelsToLearn(new=new, learned=learned.rows, waiting=waiting.rows), parent=parent)
    agreeing = [pk for decided in batch for pk in decided.agreeing]
    # Noted (the labels stay queued) before the alias moves, so that a re-run knows which version they made.
    Annotation.objects.filter(pk__in=agreeing, status=Annotation.Status.QUEUED).update(
        model_version=made.version, parent_version=parent
    )
    if made.accepted:
        _go_live(made, batch)
    _record(made.version, parent=parent, guard=made.guard, batch=batch, accepted=made.accepted)
    if made.accepted and made.took_waiting:
        # Held back before, part of a version the guard let go live now: learned at last.
        Annotation.objects.filter(status=Annotation.Status.HELD_BACK, image_id__in=waiting.images).update(
            status=Annotation.Status.LEARNED, model_version=made.version, parent_version=parent, guard_note=""
        )
    logger.info(
        "%d images (%d held back before, %s) → version %s, %s, %.0f ms",
        len(batch),
        len(waiting.images),
        "taken" if made.took_waiting else "still waiting",
        made.version,
        "learned" if made.accepted else f"held back ({made.guard})",
        1000 * (time.monotonic() - started),
    )
    return made.version


def _go_live(made: ml.Learned, batch: list[Decided]) -> None:
    labels = sorted({decided.label for decided in batch})
    live_version_move(
        version=made.version,
        action=ModelChange.Action.LEARN,
        by=f"annotation {_ids(batch)}",
        reason=_why(batch, made.guard),
        extra={"label": labels[0] if len(labels) == 1 else ",".join(labels), "images": len(batch)},
    )


def _record_interrupted(version: str, decided: Decided) -> str:
    """An earlier run made a live-line version from these labels, then stopped before recording it."""
    made = lineage.made(version)
    if not ModelChange.objects.filter(version=version, action=ModelChange.Action.LEARN).exists():
        # It stopped between moving the alias and the audit row: the move is recorded now.
        move_record(
            version=version,
            previous=made.parent,
            action=ModelChange.Action.LEARN,
            reason=f"learned '{made.label}' from annotation {','.join(map(str, sorted(made.annotation_ids)))}",
        )
    _record(version, parent=made.parent, guard=made.guard, batch=[decided], accepted=True)
    logger.info("the labels of version %s were learned into the live line already: recorded", version)
    return version


def _ids(batch: list[Decided]) -> str:
    return ",".join(str(pk) for pk in sorted(pk for decided in batch for pk in decided.agreeing))


def _why(batch: list[Decided], guard: str) -> str:
    if len(batch) == 1:
        return f"learned '{batch[0].label}' from annotation {_ids(batch)}; guard: {guard}"
    return f"learned {len(batch)} images' labels from annotations {_ids(batch)}; guard: {guard}"


def _record(version: str, *, parent: str, guard: str, batch: list[Decided], accepted: bool) -> None:
    """Write what became of each image's queued labels once ``version`` was made from them."""
    status = Annotation.Status.LEARNED if accepted else Annotation.Status.HELD_BACK
    with transaction.atomic():
        for decided in batch:
            Annotation.objects.filter(pk__in=decided.agreeing, status=Annotation.Status.QUEUED).update(
                status=status, model_version=version, parent_version=parent, guard_note=guard[:500]
            )
            outvoted = [vote.pk for vote in decided.votes if vote.label != decided.label]
            Annotation.objects.filter(pk__in=outvoted).update(
                status=Annotation.Status.OUTVOTED, model_version=version, parent_version=parent
            )
