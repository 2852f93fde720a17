"""What an update learns from besides the new labels: each image's embedding, and the images labeled before."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from annotations.models import Annotation
from predictions import ml
from predictions.models import ImageEmbedding, Prediction
from predictions.selectors import predictions_usable_for_learning
from predictions.services import embedding_store


@dataclass(frozen=True)
class Labeled:
    """Labeled images as rows for a refit (embeddings under one extractor), and which images they are."""

    rows: ml.Replay = field(default_factory=ml.Replay)
    images: tuple[object, ...] = ()


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


def labeled(
    *, extractor_id: str, statuses: Iterable[str] = Annotation.COUNTED, exclude_images: Iterable[object] = ()
) -> Labeled:
    """Images settled with one of ``statuses`` (one row per image) whose parents still consent, embedded under
    ``extractor_id``."""
    rows = (
        Annotation.objects.filter(status__in=list(statuses), image__embeddings__extractor_id=extractor_id)
        .filter(image__in=predictions_usable_for_learning())
        .exclude(image_id__in=list(exclude_images))
        .order_by("id")
        .values_list("image_id", "label", "image__embeddings__vector")
    )
    seen: dict[object, tuple[str, bytes]] = {}
    for image_id, label, vector in rows:
        seen.setdefault(image_id, (label, bytes(vector)))
    if not seen:
        return Labeled()
    x = np.stack([np.frombuffer(vector, dtype=np.float32) for _, vector in seen.values()])
    y = ml.labels_to_indices([label for label, _ in seen.values()])
    return Labeled(rows=ml.Replay(x=x, y=y), images=tuple(seen))
