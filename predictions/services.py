"""Writes for predictions: validate an upload, predict, store the image and the row together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.api_errors import ServiceUnavailable
from predictions import ml, selectors
from predictions.models import ImageEmbedding, Prediction, content_name
from predictions.signals import consent_withdrawn, labels_counted, person_data_deleting, photos_deleting

logger = logging.getLogger(__name__)

NO_IMAGE = "No image was sent: attach the photo as the form field 'image'."


def read_upload(upload: UploadedFile | None) -> ml.DecodedImage:
    """Read and fully decode an uploaded file; raises ``InvalidImage`` with a reason for a person."""
    if upload is None:
        raise ml.InvalidImage(NO_IMAGE)
    limit = settings.INFANTINO_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ml.InvalidImage(f"The file is larger than {limit // (1024 * 1024)} MB.")
    data = upload.read(limit + 1)
    return ml.decode_image(data, max_bytes=limit, max_pixels=settings.INFANTINO_MAX_PIXELS)


def _predict(upload: UploadedFile | None) -> tuple[ml.DecodedImage, ml.Outcome]:
    decoded = read_upload(upload)
    return decoded, ml.backend().predict(decoded.image)


def prediction_create(
    *,
    upload: UploadedFile | None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    session_key: str = "",
    consent: bool = False,
    predicted: tuple[ml.DecodedImage, ml.Outcome] | None = None,
) -> Prediction:
    """Validate, predict, then store the re-encoded image (no EXIF) and the row; all or nothing.

    ``consent``: the parent lets annotators see the photo and the model learn from it (asked, default no).
    ``predicted``: the upload already decoded and predicted in a batch (``predictions.batch``), stored as it is.
    """
    decoded, outcome = predicted or _predict(upload)
    result = outcome.prediction
    prediction = Prediction(
        width=decoded.image.width,
        height=decoded.image.height,
        label=result.label,
        top_label=result.top_label,
        probabilities=result.probabilities,
        uncertainty=min(1.0, max(0.0, result.uncertainty)),
        model_version=result.model_version,
        face_box=list(result.face_box) if result.face_box else None,
        uploaded_by=user if user is not None and user.is_authenticated else None,
        session_key=session_key,
        consent=consent,
    )
    data = ml.encode_clean(decoded.image)
    name = prediction.image.field.generate_filename(prediction, content_name(data))
    created = _image_store(storage=prediction.image.storage, name=name, data=data)
    prediction.image.name = name
    try:
        with transaction.atomic():
            prediction.save(force_insert=True)
            embedding_store(
                prediction=prediction,
                extractor_id=outcome.extractor_id,
                vector=outcome.embedding,
                face_box=prediction.face_box,
            )
    except Exception:
        # No row points at the object now: remove it unless it was already there for another upload.
        if created and not Prediction.objects.filter(image=name).exists():
            _image_discard(storage=prediction.image.storage, name=name)
        raise
    return prediction


class StorageUnavailable(ServiceUnavailable):
    """The image store (S3 or the media folder) cannot be written to; nothing was saved."""


def _image_store(*, storage: Storage, name: str, data: bytes) -> bool:
    """Store ``data`` under its content name unless it is there already; True when this call wrote it."""
    try:
        if storage.exists(name):
            return False  # the same photo again: its bytes, hence its name, are the same; never overwrite
        saved = storage.save(name, ContentFile(data))
    except Exception as exc:
        logger.warning("the image store failed (%s: %s); the upload was refused", type(exc).__name__, exc)
        raise StorageUnavailable("The image store cannot be reached right now; nothing was saved. Try again.") from exc
    if saved != name:  # the same photo arrived twice at once: keep the copy under its content name
        _image_discard(storage=storage, name=saved)
        return False
    return True


def _image_discard(*, storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("could not delete the stored image %s: it is left behind", name)


def embedding_store(
    *, prediction: Prediction, extractor_id: str, vector: np.ndarray, face_box: list[int] | None
) -> ImageEmbedding:
    embedding, _ = ImageEmbedding.objects.update_or_create(
        prediction=prediction,
        extractor_id=extractor_id,
        defaults={"vector": np.asarray(vector, dtype=np.float32).tobytes(), "face_box": face_box},
    )
    return embedding


# ---- privacy: deleting images and everything derived from them ----------------------------------------
@dataclass(frozen=True)
class Deleted:
    predictions: int
    annotations: int
    embeddings: int
    files: int


def predictions_delete(*, predictions: QuerySet[Prediction]) -> Deleted:
    """Delete predictions with their embeddings and labels (so replay forgets them) and each file no one else uses.

    The files go inside the transaction: if storage refuses, no row is deleted and the caller may try again.
    """
    with transaction.atomic():
        rows = list(predictions.values_list("pk", "image"))
        names = {name for _, name in rows if name}
        # Before the rows go, so the rooms above still see what they learned from them and count their labels.
        labels = labels_counted(photos_deleting.send(sender=Prediction, image_ids=[str(pk) for pk, _ in rows]))
        _, per_model = Prediction.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        # Stored names may be derived from the content, so another prediction can share this file.
        still_used = set(Prediction.objects.filter(image__in=names).values_list("image", flat=True))
        orphans = sorted(names - still_used)
        storage = Prediction._meta.get_field("image").storage
        try:
            for name in orphans:
                storage.delete(name)
        except Exception as exc:
            logger.warning("the image store failed to delete (%s: %s)", type(exc).__name__, exc)
            raise ServiceUnavailable("The image store cannot be reached right now; nothing was deleted.") from exc
    logger.info("deleted %d predictions and %d stored files", len(rows), len(orphans))
    return Deleted(
        predictions=per_model.get("predictions.Prediction", 0),
        annotations=labels,
        embeddings=per_model.get("predictions.ImageEmbedding", 0),
        files=len(orphans),
    )


def prediction_delete(*, prediction: Prediction) -> Deleted:
    return predictions_delete(predictions=Prediction.objects.filter(pk=prediction.pk))


def user_data_delete(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> Deleted:
    """Everything a person gave: their uploads (with others' labels on them) and the labels they gave."""
    with transaction.atomic():
        deleted = predictions_delete(predictions=selectors.predictions_owned(user=user, session_key=session_key))
        labels = 0
        if user.is_authenticated:
            # The rooms above delete what the person gave them (labels), each answering how many.
            labels = labels_counted(person_data_deleting.send(sender=Prediction, user=user))
    return Deleted(
        predictions=deleted.predictions,
        annotations=deleted.annotations + labels,
        embeddings=deleted.embeddings,
        files=deleted.files,
    )


def predictions_expired_delete(*, now: datetime | None = None) -> Deleted:
    """Retention: delete every photo nobody may learn from and nobody labeled, once it is old enough."""
    deleted = predictions_delete(predictions=selectors.predictions_expired(now=now or timezone.now()))
    if deleted.predictions:
        logger.info("retention deleted %d photos shared with nobody", deleted.predictions)
    return deleted


def prediction_consent_set(*, prediction: Prediction, consent: bool) -> Prediction:
    """The parent's choice, changed: withdrawn from a learned photo, the live model is refitted without it."""
    withdrawn = prediction.consent and not consent
    with transaction.atomic():
        Prediction.objects.filter(pk=prediction.pk).update(consent=consent)
        if withdrawn:
            consent_withdrawn.send(sender=Prediction, image_ids=[str(prediction.pk)])
    prediction.consent = consent
    return prediction


def uploads_claim(*, user: AbstractBaseUser, session_key: str) -> int:
    """On sign-in, what this browser uploaded anonymously moves to the account."""
    if not session_key:
        return 0
    return Prediction.objects.filter(session_key=session_key, uploaded_by__isnull=True).update(uploaded_by=user)


def account_delete(*, user: AbstractBaseUser, session_key: str) -> Deleted:
    """Everything the person gave (see ``user_data_delete``), then the account itself; audit entries keep no name."""
    with transaction.atomic():
        deleted = user_data_delete(user=user, session_key=session_key)
        user.delete()
    return deleted
