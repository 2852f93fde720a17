"""Forgetting deleted photos: a head refitted from its offline anchor, with only the labels still usable.

A photo's labels reach a head through online updates (``partial_fit`` on the live line) and through the
replay of later updates. Refitting from the anchor (the offline-trained version the live line descends
from) with the reference data and the remaining labels leaves nothing of a deleted label in the head.
The extractor and its reference data are left as they are: they change only with a full retrain.
"""

from __future__ import annotations

import copy
import math

import numpy as np
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier

from mlcore.learner import LOSS_CURVE_KEPT
from mlcore.online import fit_head
from mlcore.reference import ReferenceData

UNLEARN_GUARD = "not judged: a version that forgets deleted photos goes live regardless"
REFIT_EPOCHS = 40  # as many as a bootstrapped head gets; the reference pool is its training rows
REFIT_BATCHES = 2400  # at most this many mini-batch steps (~5 s on one core), so a big pool still refits in seconds
BATCH_SIZE = 64
TUNE_EPOCHS = 4  # passes over the remaining labels when there is no reference pool to refit from


def refit_head(
    anchor_head: MLPClassifier,
    *,
    reference: ReferenceData | None,
    labels_x: np.ndarray | None,
    labels_y: np.ndarray | None,
    seed: int,
) -> MLPClassifier:
    """A head that learned no user label but ``labels_x``/``labels_y`` (the labels still usable).

    With reference data (every bootstrapped or trained extractor has it): a fresh head of the anchor's shape,
    fitted on the reference replay pool plus the remaining labels. Without it: a copy of the anchor's own head
    (an offline version, which no online label reached), tuned on the remaining labels.
    """
    pool = [(reference.replay_x, reference.replay_y)] if reference is not None and len(reference.replay_y) else []
    labels = [(labels_x, labels_y)] if labels_x is not None and labels_y is not None and len(labels_y) else []
    if pool:
        x, y = _stacked(pool + labels)
        epochs = max(1, min(REFIT_EPOCHS, REFIT_BATCHES // math.ceil(len(y) / BATCH_SIZE)))
        head = fit_head(clone(anchor_head), x, y, epochs=epochs, batch_size=BATCH_SIZE, seed=seed)
    else:
        head = copy.deepcopy(anchor_head)
        if labels:
            x, y = _stacked(labels)
            fit_head(head, x, y, epochs=TUNE_EPOCHS, seed=seed)
    head.loss_curve_ = head.loss_curve_[-LOSS_CURVE_KEPT:]  # see learner.update_head: only the last loss matters
    return head


def _stacked(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([np.asarray(px, dtype=np.float32) for px, _ in parts])
    y = np.concatenate([np.asarray(py, dtype=np.int64) for _, py in parts])
    return x, y
