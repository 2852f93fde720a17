"""Writes for annotations: label an image, upload with a label, undo; learning is handed to the single writer."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from annotations.models import Annotation
from annotations.selectors import annotation_get_visible
from infantino_site.jobs import enqueue
from predictions import services as prediction_services
from predictions.models import Expression
from predictions.selectors import prediction_get_for_learning


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


def check_label(label: object) -> str:
    if not isinstance(label, str) or label not in Expression.values:
        raise UnknownLabel(f"Unknown label {label!r}: use one of {', '.join(Expression.values)}.")
    return label


def annotation_create(*, image_id: object, label: object, annotator: AbstractBaseUser) -> Annotation:
    """Store one person's label for a shared image and queue the online update on commit; others read as unknown."""
    label = check_label(label)
    image = prediction_get_for_learning(prediction_id=str(image_id)) if image_id else None
    if image is None:
        raise UnknownImage("No image has this id.")
    try:
        with transaction.atomic():
            annotation = Annotation.objects.create(image=image, label=label, annotator=annotator)
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
