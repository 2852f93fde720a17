"""Classification metrics logged with every model version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score

from mlcore.labels import LABELS, NUM_CLASSES


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if not len(y_true):
        return 0.0
    return float(f1_score(y_true, y_pred, labels=list(range(NUM_CLASSES)), average="macro", zero_division=0))


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Rows are true labels, columns predicted ones, in label order."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Recall per label; a label absent from ``y_true`` gets NaN rather than a made-up 0 or 1."""
    matrix = confusion(y_true, y_pred)
    support = matrix.sum(axis=1)
    return {label: float(matrix[i, i] / support[i]) if support[i] else float("nan") for i, label in enumerate(LABELS)}


def expected_calibration_error(probabilities: np.ndarray, y_true: np.ndarray, *, bins: int = 10) -> float:
    """Gap between confidence and accuracy, averaged over equal-width confidence bins, weighted by bin size."""
    if not len(y_true):
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)


@dataclass(frozen=True)
class Evaluation:
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, float]
    ece: float
    confusion: list[list[int]]

    def as_metrics(self, prefix: str) -> dict[str, float]:
        """Flat MLflow metrics (``<prefix>_accuracy``, ``<prefix>_recall_<label>`` …); NaN recalls are left out."""
        metrics = {
            f"{prefix}_accuracy": self.accuracy,
            f"{prefix}_macro_f1": self.macro_f1,
            f"{prefix}_ece": self.ece,
            f"{prefix}_n": float(self.n),
        }
        metrics.update({f"{prefix}_recall_{k}": v for k, v in self.per_class.items() if not np.isnan(v)})
        return metrics


def evaluate_probabilities(probabilities: np.ndarray, y_true: np.ndarray) -> Evaluation:
    """Every metric at once, from calibrated probabilities and true labels."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = probabilities.argmax(axis=1) if len(y_true) else np.zeros(0, dtype=np.int64)
    return Evaluation(
        n=len(y_true),
        accuracy=accuracy(y_true, y_pred),
        macro_f1=macro_f1(y_true, y_pred),
        per_class=per_class_recall(y_true, y_pred),
        ece=expected_calibration_error(probabilities, y_true),
        confusion=confusion(y_true, y_pred).tolist(),
    )
