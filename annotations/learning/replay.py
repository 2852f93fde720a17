"""What an update learns from besides the new label: the image's embedding and earlier labeled images."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from annotations.models import Annotation
from predictions import ml
from predictions.models import ImageEmbedding, Prediction
from predictions.selectors import predictions_usable_for_learning
from predictions.services import embedding_store


def image_embedding(image: Prediction, *, version: str, extractor_id: str) -> np.ndarray:
    """The image's embedding under ``version``'s extractor (``extractor_id``), computed once and kept."""
    stored = ImageEmbedding.objects.filter(prediction=image, extractor_id=extractor_id).first()
    if stored is not None:
        return np.frombuffer(bytes(stored.vector), dtype=np.float32)
    with image.image.open("rb") as handle:
        picture = ml.decode_image(
            handle.read(), max_bytes=settings.INFANTINO_MAX_UPLOAD_BYTES, max_pixels=settings.INFANTINO_MAX_PIXELS
        ).image
    embedded = ml.backend().embed(picture, version=version)
    embedding_store(
        prediction=image,
        extractor_id=embedded.extractor_id,
        vector=embedded.vector,
        face_box=list(embedded.face_box) if embedded.face_box else None,
    )
    return embedded.vector


def earlier_labels(*, extractor_id: str, exclude_image: Prediction | None) -> ml.Replay:
    """Embeddings and labels of images learned before (one row per image) whose parents still consent, for replay."""
    rows = (
        Annotation.objects.filter(status__in=Annotation.COUNTED, image__embeddings__extractor_id=extractor_id)
        .filter(image__in=predictions_usable_for_learning())
        .exclude(image=exclude_image)
        .values_list("image_id", "label", "image__embeddings__vector")
    )
    seen: dict[object, tuple[str, bytes]] = {}
    for image_id, label, vector in rows:
        seen.setdefault(image_id, (label, bytes(vector)))
    if not seen:
        return ml.Replay()
    x = np.stack([np.frombuffer(vector, dtype=np.float32) for _, vector in seen.values()])
    return ml.Replay(x=x, y=ml.labels_to_indices([label for label, _ in seen.values()]))
