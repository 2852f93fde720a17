"""Scoring a servable model on labeled images, through exactly the path a prediction takes."""

from __future__ import annotations

import numpy as np

from mlcore.datasets import LabeledImages
from mlcore.metrics import Evaluation, evaluate_probabilities
from mlcore.model import ExpressionModel
from mlcore.progress import ProgressCallback, ProgressEvent, no_progress


def model_probabilities(
    model: ExpressionModel, data: LabeledImages, *, batch_size: int = 64, progress: ProgressCallback = no_progress
) -> np.ndarray:
    """Calibrated probabilities for every image (FER2013 rows are already faces and skip the detector)."""
    chunks = []
    total = (len(data.images) + batch_size - 1) // batch_size
    for step, start in enumerate(range(0, len(data.images), batch_size), 1):
        images = data.images[start : start + batch_size]
        faces = images if data.precropped else [model.crop(image).image for image in images]
        chunks.append(model.probabilities(model.embed(faces)))
        progress(ProgressEvent(stage="evaluate", step=step, total=total))
    return np.concatenate(chunks) if chunks else np.zeros((0, 7))


def evaluate_model(
    model: ExpressionModel, data: LabeledImages, *, progress: ProgressCallback = no_progress
) -> Evaluation:
    return evaluate_probabilities(model_probabilities(model, data, progress=progress), data.labels)


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
