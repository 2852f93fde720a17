"""How unsure a prediction is, and when to say "unsure" rather than guess."""

from __future__ import annotations

import numpy as np

from mlcore.labels import NUM_CLASSES


def normalised_entropy(probabilities: np.ndarray) -> np.ndarray:
    """Entropy divided by its maximum, log(7): 0 is certain, 1 is a uniform guess."""
    p = np.clip(np.atleast_2d(probabilities), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1) / np.log(NUM_CLASSES)


def margin(probabilities: np.ndarray) -> np.ndarray:
    """Gap between the two most likely classes."""
    top = np.sort(np.atleast_2d(probabilities), axis=1)
    return top[:, -1] - top[:, -2]
