"""Scoring a servable model on labeled images, through exactly the path a prediction takes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from mlcore.datasets import LabeledImages, fer_images, folder_items, is_fer_csv, read_fer_csv
from mlcore.imageio import open_image_file
from mlcore.metrics import Evaluation, evaluate_probabilities
from mlcore.model import EMBED_BATCH, ExpressionModel
from mlcore.pipeline import chunked, prefetched
from mlcore.progress import ProgressCallback, ProgressEvent, no_progress


def model_probabilities(
    model: ExpressionModel,
    data: LabeledImages,
    *,
    batch_size: int = EMBED_BATCH,
    progress: ProgressCallback = no_progress,
) -> np.ndarray:
    """Calibrated probabilities for every image (FER2013 rows are already faces and skip the detector)."""
    return _probabilities(model, data.images, len(data.images), data.precropped, batch_size, progress)


def _probabilities(
    model: ExpressionModel,
    images: Iterable[Image.Image],
    total: int,
    precropped: bool,
    batch_size: int,
    progress: ProgressCallback,
) -> np.ndarray:
    chunks = []
    steps = math.ceil(total / batch_size)
    for step, chunk in enumerate(chunked(images, batch_size), 1):
        faces = chunk if precropped else [model.crop(image).image for image in chunk]
        chunks.append(model.probabilities(model.embed(faces)))
        progress(ProgressEvent(stage="evaluate", step=step, total=steps))
    return np.concatenate(chunks) if chunks else np.zeros((0, 7))


def evaluate_model(
    model: ExpressionModel, data: LabeledImages, *, progress: ProgressCallback = no_progress
) -> Evaluation:
    return evaluate_probabilities(model_probabilities(model, data, progress=progress), data.labels)


def evaluate_path(
    model: ExpressionModel, path: Path, *, limit: int | None = None, progress: ProgressCallback = no_progress
) -> Evaluation:
    """``evaluate_model`` on an image folder (one sub-folder per label) or a FER2013 CSV, read as it is scored: the
    next photos are decoded on one thread while faces are found and embedded on this one."""
    if is_fer_csv(path):
        faces, labels = read_fer_csv(path, limit=limit)
        probabilities = _probabilities(model, fer_images(faces), len(labels), True, EMBED_BATCH, progress)
        return evaluate_probabilities(probabilities, labels)
    items = folder_items(path)[:limit]
    photos = prefetched(items, lambda item: open_image_file(str(item.path)))
    probabilities = _probabilities(model, photos, len(items), False, EMBED_BATCH, progress)
    return evaluate_probabilities(probabilities, np.array([item.label for item in items], dtype=np.int64))


def evaluation_json(evaluation: Evaluation, model_version: str) -> dict[str, object]:
    """The stable ``evaluate --json`` document; a label absent from the data has recall null."""
    return {
        "n": evaluation.n,
        "accuracy": evaluation.accuracy,
        "macro_f1": evaluation.macro_f1,
        "per_class": {k: (None if np.isnan(v) else v) for k, v in evaluation.per_class.items()},
        "ece": evaluation.ece,
        "model_version": model_version,
    }
