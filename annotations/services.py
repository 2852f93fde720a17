"""Writes for labeling: labels, skips, unusable marks, blind mode, adjudications; learning goes to the single writer."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from annotations.learning.writer import single_writer
from annotations.models import Adjudication, Annotation, AnnotatorPreference, LabelingSettings, QueueSkip
from annotations.selectors import annotation_get_visible
from annotations.selectors.learned import images_learned_from
from common.jobs import enqueue
from predictions import services as prediction_services
from predictions.models import Expression, Prediction, Unusable
from predictions.selectors import prediction_get_for_learning, predictions_shared


class AnnotationError(Exception):
    """A refused request; ``status`` is the HTTP status that says why."""

    status = 400


class UnknownLabel(AnnotationError):
    status = 400


class UnknownImage(AnnotationError):
    status = 404


class UnknownAnnotation(AnnotationError):
    status = 404


class AlreadyLabeled(AnnotationError):
    status = 409


class AlreadyDecided(AnnotationError):
    """A second adjudication, a photo marked twice, or a decision against what was learned already."""

    status = 409


class NothingToSettle(AnnotationError):
    status = 400


def check_label(label: object) -> str:
    if not isinstance(label, str) or label not in Expression.values:
        raise UnknownLabel(f"Unknown label {label!r}: use one of {', '.join(Expression.values)}.")
    return label


def _usable_image(image_id: object) -> Prediction:
    """A photo annotators may label; any other reads exactly as one that does not exist."""
    image = prediction_get_for_learning(prediction_id=str(image_id)) if image_id else None
    if image is None:
        raise UnknownImage("No image has this id.")
    return image


def annotation_create(
    *, image_id: object, label: object, annotator: AbstractBaseUser, seconds: float | None = None
) -> Annotation:
    """Store one person's label for a shared image and queue the online update on commit; others read as unknown."""
    label = check_label(label)
    image = _usable_image(image_id)
    try:
        with transaction.atomic():
            annotation = Annotation.objects.create(image=image, label=label, annotator=annotator, seconds=seconds)
            transaction.on_commit(lambda: enqueue("annotations.tasks.learn", annotation_id=annotation.pk))
    except IntegrityError:
        raise AlreadyLabeled("You have labeled this image already; undo that label to change it.") from None
    annotation.refresh_from_db()  # the inline runner may have learned it already
    return annotation


def labeled_image_create(
    *, upload: UploadedFile | None, label: object, annotator: AbstractBaseUser, session_key: str = ""
) -> Annotation:
    """Upload a photo and label it in one step: the team's own photo, shared for learning; a bad one stores nothing."""
    check_label(label)
    prediction = prediction_services.prediction_create(
        upload=upload, user=annotator, session_key=session_key, consent=True
    )
    return annotation_create(image_id=prediction.pk, label=label, annotator=annotator)


def annotation_undo(*, annotation_id: int, user: AbstractBaseUser) -> None:
    """Remove a label; if a live version was learned from it, the live alias goes back to the one before."""
    annotation = annotation_get_visible(annotation_id=annotation_id, user=user)
    if annotation is None:  # someone else's label reads as no label at all
        raise UnknownAnnotation("No annotation has this id.")
    version, parent = annotation.model_version, annotation.parent_version
    learned = annotation.status == Annotation.Status.LEARNED
    with transaction.atomic():
        annotation.delete()
        if learned:
            transaction.on_commit(lambda: enqueue("annotations.tasks.undo", version=version, parent=parent))


def queue_skip_create(*, image_id: object, annotator: AbstractBaseUser) -> QueueSkip:
    """Take an image out of this annotator's queue, on the server, until they bring their skips back."""
    image = _usable_image(image_id)
    try:
        with transaction.atomic():
            skip, _ = QueueSkip.objects.get_or_create(image=image, annotator=annotator)
    except IntegrityError:  # the same skip sent twice at once
        skip = QueueSkip.objects.get(image=image, annotator=annotator)
    return skip


def queue_skips_clear(*, annotator: AbstractBaseUser) -> int:
    """Bring every image this annotator skipped back into their queue; returns how many."""
    cleared, _ = QueueSkip.objects.filter(annotator_id=annotator.pk).delete()
    return cleared


def unusable_mark(*, image_id: object, reason: object, by: AbstractBaseUser) -> Prediction:
    """Take a photo with no usable face, or not of an infant, out of everyone's queue and out of training."""
    if not isinstance(reason, str) or reason not in Unusable.values:
        raise UnknownLabel(f"Unknown reason {reason!r}: use one of {', '.join(Unusable.values)}.")
    image = _shared_image(image_id, unusable=None)
    with transaction.atomic():
        if not Prediction.objects.filter(pk=image.pk, unusable="").update(unusable=reason, unusable_by=by):
            raise AlreadyDecided("This photo is marked unusable already.")
        if image.annotations.filter(status__in=Annotation.COUNTED).exists():
            # The live head learned it already: refitted without it, as when a parent stops sharing a photo.
            why = f"marked {reason}: image {image.pk}"
            transaction.on_commit(lambda: enqueue("annotations.tasks.unlearn", reason=why))
    image.refresh_from_db()
    return image


def unusable_clear(*, image_id: object) -> Prediction:
    """Staff undo an unusable mark: the photo is back in the queue, and labels waiting on it are learned."""
    image = _shared_image(image_id, unusable=True)
    with transaction.atomic():
        Prediction.objects.filter(pk=image.pk).update(unusable="", unusable_by=None)
        waiting = image.annotations.filter(status=Annotation.Status.QUEUED).order_by("id").first()
        if waiting is not None:
            transaction.on_commit(lambda: enqueue("annotations.tasks.learn", annotation_id=waiting.pk))
    image.refresh_from_db()
    return image


def _shared_image(image_id: object, *, unusable: bool | None) -> Prediction:
    """A photo annotators may see: marked unusable (True), or not (False), or either (None)."""
    try:
        pk = uuid.UUID(str(image_id))
    except ValueError:
        raise UnknownImage("No image has this id.") from None
    images = predictions_shared().filter(pk=pk)
    if unusable is not None:
        images = images.exclude(unusable="") if unusable else images.filter(unusable="")
    image = images.first()
    if image is None:
        raise UnknownImage("No photo marked unusable has this id." if unusable else "No image has this id.")
    return image


def labeling_settings_update(*, blind: bool, by: AbstractBaseUser) -> LabelingSettings:
    """Staff turn the project's blind mode on or off."""
    row, _ = LabelingSettings.objects.update_or_create(pk=1, defaults={"blind": blind, "updated_by": by})
    return row


def annotator_preference_update(*, user: AbstractBaseUser, blind: bool) -> AnnotatorPreference:
    """One annotator hides (or shows again) the model's guess for themself."""
    preference, _ = AnnotatorPreference.objects.update_or_create(user=user, defaults={"blind": blind})
    return preference


def adjudication_create(
    *, image_id: object, label: object, adjudicator: AbstractBaseUser, note: str = ""
) -> Adjudication:
    """Settle an image between the labels it was given: audited with every vote, then learned like any label."""
    label = check_label(label)
    image = _usable_image(image_id)
    # Under the writer lock: no update can learn this image's majority while the decision is being stored.
    with single_writer(), transaction.atomic():
        votes = list(image.annotations.select_related("annotator").order_by("created", "id"))
        _check_decidable(votes, label)
        try:
            with transaction.atomic():
                adjudication = Adjudication.objects.create(
                    image=image,
                    label=label,
                    adjudicator=adjudicator,
                    note=note[:500],
                    votes=[_vote_record(vote) for vote in votes],
                )
        except IntegrityError:
            raise AlreadyDecided("This image was settled already.") from None
    agreeing = next((v for v in votes if v.label == label and v.status == Annotation.Status.QUEUED), None)
    if agreeing is not None:
        # Outside the lock (its job takes it); on commit, or at once when no transaction is open.
        transaction.on_commit(lambda: enqueue("annotations.tasks.learn", annotation_id=agreeing.pk))
    return adjudication


def _vote_record(vote: Annotation) -> dict[str, object]:
    annotator = vote.annotator.get_username()
    return {"annotation": vote.pk, "annotator": annotator, "label": vote.label, "status": vote.status}


def _check_decidable(votes: list[Annotation], label: str) -> None:
    if not votes:
        raise NothingToSettle("Nobody has labeled this image yet: there is nothing to settle.")
    given = sorted({vote.label for vote in votes})
    if label not in given:
        raise UnknownLabel(f"Decide between the labels given: {', '.join(given)}.")
    if Adjudication.objects.filter(image_id=votes[0].image_id).exists():
        raise AlreadyDecided("This image was settled already.")
    learned = next((vote for vote in votes if vote.status in Annotation.COUNTED), None)
    if learned is not None and learned.label != label:
        raise AlreadyDecided(
            f"This image was learned as {learned.label} already (version {learned.model_version}): "
            "undo that label first to settle it otherwise."
        )


# ---- privacy: what predictions tells this room (annotations.receivers) -------------------------------------------
def photos_unlearn(*, image_ids: list[str], why: str) -> int:
    """Of these photos, those a version learned from are unlearned once the change commits; returns their labels."""
    labels = Annotation.objects.filter(image_id__in=image_ids)
    _unlearn_on_commit(image_ids=images_learned_from(labels=labels), why=why)
    return labels.count()


def person_labels_delete(*, user: AbstractBaseUser) -> int:
    """Delete every label ``user`` gave; the photos a version learned from through them are unlearned on commit."""
    given = Annotation.objects.filter(annotator_id=user.pk)
    _unlearn_on_commit(image_ids=images_learned_from(labels=given), why="labels deleted")
    deleted, _ = given.delete()
    return deleted


def _unlearn_on_commit(*, image_ids: list[str], why: str) -> None:
    """The single writer refits the live head without these photos' labels; the reason names images, never a person."""
    if not image_ids:
        return
    shown = ", ".join(image_ids[:5]) + (f" and {len(image_ids) - 5} more" if len(image_ids) > 5 else "")
    reason = f"{why}: image{'s' if len(image_ids) > 1 else ''} {shown}"
    transaction.on_commit(lambda: enqueue("annotations.tasks.unlearn", reason=reason))


def consolidation_queue(*, user_id: int | None) -> None:
    """Once the request commits, the single writer refits the live head on every label plus replay."""
    transaction.on_commit(lambda: enqueue("annotations.tasks.consolidate", user_id=user_id))
