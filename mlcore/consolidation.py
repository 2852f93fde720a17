"""Consolidation: a fresh head fitted on every label so far plus the reference replay pool, in seconds.

Label after label, ``partial_fit`` steps drift the online line away from what the labels as a whole say;
a periodic refit from scratch on all of them pulls it back. It is fitted as the anchor's own head was, so
that the labels are all that differs: a trained model's head saw only infant rows, class-balanced
(``mlcore.training.registration``), and so does its refit (the labels join the replay pool's infant rows); a
starter's head gave FER2013 rows ``SOURCE_SHARE`` of the draws (``mlcore.bootstrap``), and so does its refit.
Fitted with FER2013 rows when the anchor was not, a refit on all 176 pool labels of the learning curve's split
scored 0.535 and 0.558 on its held-out photos (two seeds) where the anchor scored 0.593; fitted like the anchor,
0.628 and 0.581 (``bench/learning_curve.py``'s split, seed 0).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.neural_network import MLPClassifier

from mlcore.labels import NUM_CLASSES
from mlcore.online import LOSS_CURVE_KEPT, fit_head, new_head
from mlcore.reference import ReferenceData
from mlcore.versions import Kind

LABELED_DOMAIN = "infant"  # labeled photos are infants: they share the infant training rows' half of the draws
SOURCE_DOMAIN = "fer"
SOURCE_SHARE = 0.5  # the starter's own split between FER2013 and infant rows (mlcore.bootstrap)
BATCH_SIZE = 64
MAX_BATCHES = 2400  # at most this many mini-batch steps (~5 s on one core): a big pool still refits in seconds


def refit_head(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    reference: ReferenceData | None,
    seed: int = 0,
    epochs: int = 60,
    source_share: float = SOURCE_SHARE,
) -> MLPClassifier:
    """A new head fitted on ``embeddings``/``labels`` (class indices) plus ``reference``'s replay pool, the
    source domain's rows drawn ``source_share`` of the time (0: left out)."""
    x, y, domains = pooled(embeddings, labels, reference=reference)
    if source_share <= 0:
        kept = domains != SOURCE_DOMAIN
        x, y, domains = x[kept], y[kept], domains[kept]
    if not len(y):
        raise ValueError("nothing to fit: no labels and no reference replay pool")
    epochs = max(1, min(epochs, MAX_BATCHES // math.ceil(len(y) / BATCH_SIZE)))
    head = fit_head(
        new_head(seed=seed),
        x,
        y,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        seed=seed,
        sample_weight=sampling_weights(y, domains, source_share=source_share),
    )
    head.loss_curve_ = head.loss_curve_[-LOSS_CURVE_KEPT:]  # only the last losses matter (mlcore.online)
    return head


def pooled(
    embeddings: np.ndarray, labels: np.ndarray, *, reference: ReferenceData | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labels and the replay pool stacked, with each row's domain."""
    parts = []
    if len(labels):
        parts.append((embeddings, labels, np.full(len(labels), LABELED_DOMAIN)))
    if reference is not None and len(reference.replay_y):
        parts.append((reference.replay_x, reference.replay_y, np.asarray(reference.replay_domain, dtype=str)))
    if not parts:
        return np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64), np.empty(0, dtype=str)
    x = np.concatenate([np.asarray(px, dtype=np.float32) for px, _, _ in parts])
    y = np.concatenate([np.asarray(py, dtype=np.int64) for _, py, _ in parts])
    return x, y, np.concatenate([domain for _, _, domain in parts])


def replay_rows(reference: ReferenceData | None, *, source_share: float = SOURCE_SHARE) -> int:
    """How many of ``reference``'s replay rows a refit with ``source_share`` draws from."""
    if reference is None:
        return 0
    domains = np.asarray(reference.replay_domain, dtype=str)
    return len(domains) if source_share > 0 else int(np.count_nonzero(domains != SOURCE_DOMAIN))


def source_share_for(anchor_kind: str) -> float:
    """The source domain's share of the draws that the anchor's head was fitted with (see the module)."""
    return 0.0 if anchor_kind == Kind.RETRAIN else SOURCE_SHARE  # a trained head saw infant rows only


def sampling_weights(labels: np.ndarray, domains: np.ndarray, *, source_share: float = SOURCE_SHARE) -> np.ndarray:
    """Class-balanced within each domain; the source domain gets ``source_share`` of the draws, the others the rest."""
    weights = np.zeros(len(labels))
    present = sorted(set(domains.tolist()))
    others = len([domain for domain in present if domain != SOURCE_DOMAIN])
    for domain in present:
        share = source_share if domain == SOURCE_DOMAIN else (1.0 - source_share) / others
        rows = domains == domain
        counts = np.bincount(labels[rows], minlength=NUM_CLASSES)
        weights[rows] = share / np.count_nonzero(counts) / counts[labels[rows]]
    return weights / weights.sum()  # a domain alone gets every draw
