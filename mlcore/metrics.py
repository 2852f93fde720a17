"""Classification metrics logged with every model version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mlcore.labels import LABELS, NUM_CLASSES


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if not len(y_true):
        return 0.0
    from sklearn.metrics import f1_score  # here: Django reads reliability bins from this module without sklearn

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


RELIABILITY_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width confidence bin: how many answers fell in it, how confident and how right they were."""

    lower: float
    upper: float
    count: int
    confidence: float | None  # mean top probability; None for an empty bin
    accuracy: float | None


def reliability_bins(
    probabilities: np.ndarray, y_true: np.ndarray, *, bins: int = RELIABILITY_BINS
) -> list[ReliabilityBin]:
    """Answers grouped by confidence (the top probability) into ``bins`` equal-width bins, with each bin's accuracy."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    confidence = probabilities.max(axis=1) if len(y_true) else np.zeros(0)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true) if len(y_true) else np.zeros(0, dtype=bool)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    found = []
    for b in range(bins):
        mask = which == b
        filled = bool(mask.any())
        found.append(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=int(mask.sum()),
                confidence=float(confidence[mask].mean()) if filled else None,
                accuracy=float(correct[mask].mean()) if filled else None,
            )
        )
    return found


def expected_calibration_error(probabilities: np.ndarray, y_true: np.ndarray, *, bins: int = RELIABILITY_BINS) -> float:
    """Gap between confidence and accuracy, averaged over equal-width confidence bins, weighted by bin size."""
    if not len(y_true):
        return 0.0
    return float(
        sum(
            b.count / len(y_true) * abs(b.accuracy - b.confidence)
            for b in reliability_bins(probabilities, y_true, bins=bins)
            if b.accuracy is not None and b.confidence is not None
        )
    )


def reliability_metrics(found: list[ReliabilityBin], prefix: str) -> dict[str, float]:
    """Bins as flat MLflow metrics (``<prefix>_rel<i>_n``, ``_conf``, ``_acc``), so they travel with the version.

    Never ``…_accuracy``: the forgetting guard reads every metric of that name as a domain's accuracy.
    """
    metrics: dict[str, float] = {}
    for i, b in enumerate(found):
        metrics[f"{prefix}_rel{i}_n"] = float(b.count)
        if b.confidence is not None and b.accuracy is not None:
            metrics[f"{prefix}_rel{i}_conf"] = b.confidence
            metrics[f"{prefix}_rel{i}_acc"] = b.accuracy
    return metrics


def reliability_from_metrics(metrics: Mapping[str, float], prefix: str) -> list[ReliabilityBin] | None:
    """The bins a version stored with ``reliability_metrics``, or None when it stored none."""
    counts = sorted(
        (int(k.removeprefix(f"{prefix}_rel").removesuffix("_n")), v)
        for k, v in metrics.items()
        if k.startswith(f"{prefix}_rel") and k.endswith("_n")
    )
    if not counts:
        return None
    width = 1.0 / len(counts)
    return [
        ReliabilityBin(
            lower=i * width,
            upper=(i + 1) * width,
            count=int(n),
            confidence=metrics.get(f"{prefix}_rel{i}_conf"),
            accuracy=metrics.get(f"{prefix}_rel{i}_acc"),
        )
        for i, n in counts
    ]


@dataclass(frozen=True)
class Evaluation:
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, float]
    ece: float
    confusion: list[list[int]]
    reliability: list[ReliabilityBin]

    def as_metrics(self, prefix: str) -> dict[str, float]:
        """Flat MLflow metrics (``<prefix>_accuracy``, ``<prefix>_recall_<label>`` …); NaN recalls are left out."""
        metrics = {
            f"{prefix}_accuracy": self.accuracy,
            f"{prefix}_macro_f1": self.macro_f1,
            f"{prefix}_ece": self.ece,
            f"{prefix}_n": float(self.n),
        }
        metrics.update({f"{prefix}_recall_{k}": v for k, v in self.per_class.items() if not np.isnan(v)})
        metrics.update(reliability_metrics(self.reliability, prefix))
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
        reliability=reliability_bins(probabilities, y_true),
    )
