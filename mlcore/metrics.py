"""Classification metrics logged with every model version."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from mlcore.labels import NUM_CLASSES


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if not len(y_true):
        return 0.0
    return float(f1_score(y_true, y_pred, labels=list(range(NUM_CLASSES)), average="macro", zero_division=0))
