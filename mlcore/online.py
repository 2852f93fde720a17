"""The scikit-learn MLP head over 64-d embeddings, which learns online with ``partial_fit``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier

from mlcore.labels import NUM_CLASSES

CLASSES = np.arange(NUM_CLASSES)
# The one non-standard type inside a fitted MLPClassifier that skops must be told to trust.
SKOPS_TRUSTED_TYPES = ["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"]
# partial_fit appends to loss_curve_ forever, and skops stores each entry as an array of its own (360 of them cost a
# label's version 0.1 s to write and read back): a head derived from another keeps only the last few.
LOSS_CURVE_KEPT = 20


def new_head(*, hidden: int = 64, alpha: float = 1e-3, learning_rate: float = 1e-3, seed: int = 0) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=(hidden,),
        alpha=alpha,
        learning_rate_init=learning_rate,
        batch_size="auto",
        random_state=seed,
    )


def fit_head(
    head: MLPClassifier,
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 60,
    batch_size: int = 64,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
) -> MLPClassifier:
    """Train from scratch with epochs of class-balanced mini-batches through ``partial_fit``.

    Going through ``partial_fit`` (rather than ``fit``) leaves the head in exactly the state the
    online updates continue from; the balancing resamples rare classes so that "disgust" is heard.
    """
    rng = np.random.default_rng(seed)
    weights = _balanced_weights(labels) if sample_weight is None else sample_weight
    probabilities = weights / weights.sum()
    for _ in range(epochs):
        order = rng.choice(len(labels), size=len(labels), replace=True, p=probabilities)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            head.partial_fit(embeddings[chunk], labels[chunk], classes=CLASSES)
    return head


def _balanced_weights(labels: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    return 1.0 / counts[labels]


def head_probabilities(head: MLPClassifier, embeddings: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities in label order, softened or sharpened by ``temperature``."""
    probabilities = head.predict_proba(np.atleast_2d(embeddings))
    full = np.zeros((probabilities.shape[0], NUM_CLASSES))
    full[:, head.classes_.astype(int)] = probabilities
    if temperature == 1.0:
        return full
    logits = np.log(np.clip(full, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def load_head(path: Path) -> MLPClassifier:
    """Read a head saved with skops, trusting sklearn's own types and ``SKOPS_TRUSTED_TYPES`` only: no pickle."""
    import skops.io

    head = skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)
    if not isinstance(head, MLPClassifier):
        raise TypeError(f"expected an MLPClassifier, found {type(head).__name__}")
    return head
