"""Writes for predictions: validate an upload, predict, store the image and the row together."""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from mlcore.imageio import DecodedImage, InvalidImage, decode_image, encode_clean
from predictions import ml
from predictions.models import ImageEmbedding, Prediction

logger = logging.getLogger(__name__)


def read_upload(upload: UploadedFile | None) -> DecodedImage:
    """Read and fully decode an uploaded file; raises ``InvalidImage`` with a reason for a person."""
    if upload is None:
        raise InvalidImage("No image was sent: attach the photo as the form field 'image'.")
    limit = settings.INFANTINO_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidImage(f"The file is larger than {limit // (1024 * 1024)} MB.")
    data = upload.read(limit + 1)
    return decode_image(data, max_bytes=limit, max_pixels=settings.INFANTINO_MAX_PIXELS)


def prediction_create(
    *,
    upload: UploadedFile | None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    session_key: str = "",
) -> Prediction:
    """Validate, predict, then store the re-encoded image (no EXIF) and the row; all or nothing."""
    decoded = read_upload(upload)
    outcome = ml.predict(decoded.image)
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
    )
    prediction.image.save(f"{prediction.id}.jpg", ContentFile(encode_clean(decoded.image)), save=False)
    try:
        with transaction.atomic():
            prediction.save(force_insert=True)
            embedding_store(prediction=prediction, extractor_id=outcome.extractor_id,
                            vector=outcome.embedding, face_box=prediction.face_box)
    except Exception:
        prediction.image.storage.delete(prediction.image.name)
        raise
    return prediction


def embedding_store(
    *, prediction: Prediction, extractor_id: str, vector: np.ndarray, face_box: list[int] | None
) -> ImageEmbedding:
    embedding, _ = ImageEmbedding.objects.update_or_create(
        prediction=prediction,
        extractor_id=extractor_id,
        defaults={"vector": np.asarray(vector, dtype=np.float32).tobytes(), "face_box": face_box},
    )
    return embedding
