"""Valence: the seven expressions folded into positive, negative and neutral, a coarser question parents also ask."""

from __future__ import annotations

import numpy as np

from mlcore.labels import LABELS

VALENCES: tuple[str, ...] = ("negative", "neutral", "positive")
VALENCE_OF: dict[str, str] = {
    "angry": "negative",
    "disgust": "negative",
    "fear": "negative",
    "happy": "positive",
    "sad": "negative",
    "surprise": "positive",
    "neutral": "neutral",
}
# Expression index → valence index, in label order.
_VALENCE_INDEX = np.array([VALENCES.index(VALENCE_OF[label]) for label in LABELS], dtype=np.int64)


def valence(labels: np.ndarray) -> np.ndarray:
    """The valence index (into ``VALENCES``) of each expression index."""
    return _VALENCE_INDEX[np.asarray(labels, dtype=np.int64)]


def valence_correct(probabilities: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Whether each photo's most probable expression has the valence of its true one."""
    return valence(np.asarray(probabilities).argmax(axis=1)) == valence(y_true)
