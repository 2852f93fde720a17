"""Labels likeliest to be wrong, by confident learning (Northcutt et al., 2021), written small.

Each labeled embedding gets the probability of every class from a head that never saw it (K-fold cross-fitting
on the labels plus the replay pool): a head that learned a label would only echo it back. A class's threshold is
its labels' mean self-confidence, the out-of-sample probability of the given label. A label is an issue when
the embedding is confidently (at or above that class's threshold) of another class, the most probable of those
it clears; issues are ranked by their self-confidence, lowest first. ``cleanlab`` does the same with more
options; this rule is all the labeling queue needs, and adds no dependency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlcore.consolidation import BATCH_SIZE, SOURCE_SHARE, refit_head, replay_rows
from mlcore.labels import NUM_CLASSES
from mlcore.online import head_probabilities
from mlcore.reference import ReferenceData

FOLDS = 4
QUICK_BATCHES = 250  # mini-batch steps per fold's head (~0.5 s): enough to rank labels, not to serve


@dataclass(frozen=True)
class LabelIssue:
    """One label that the other labels and the replay pool say is likely wrong."""

    index: int  # row of the labels given
    given: int  # class index of the label given
    suggested: int  # the class the embedding confidently belongs to instead
    given_probability: float  # out of sample: the self-confidence
    suggested_probability: float


def out_of_sample_probabilities(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    reference: ReferenceData | None,
    folds: int = FOLDS,
    seed: int = 0,
    source_share: float = SOURCE_SHARE,
) -> np.ndarray:
    """Class probabilities of each row from a head fitted on the other folds' labels plus the replay pool
    (fitted as ``mlcore.consolidation.refit_head`` fits with ``source_share``)."""
    n = len(labels)
    probabilities = np.zeros((n, NUM_CLASSES))
    folds = min(folds, n)
    if folds < 2:
        raise ValueError("cross-fitting needs at least two labels")
    fold = np.random.default_rng(seed).permutation(n) % folds
    for k in range(folds):
        held, kept = fold == k, fold != k
        size = np.count_nonzero(kept) + replay_rows(reference, source_share=source_share)
        epochs = max(1, QUICK_BATCHES // math.ceil(size / BATCH_SIZE))
        head = refit_head(
            embeddings[kept], labels[kept], reference=reference, seed=seed + k, epochs=epochs, source_share=source_share
        )
        probabilities[held] = head_probabilities(head, embeddings[held])
    return probabilities


def label_issues(probabilities: np.ndarray, labels: np.ndarray) -> list[LabelIssue]:
    """The labels confidently of another class, lowest self-confidence first.

    A class nobody gave has no self-confidence to measure: no row is said to belong to it.
    """
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))
    self_confidence = probabilities[rows, labels]
    thresholds = np.full(NUM_CLASSES, np.inf)
    for cls in np.unique(labels):
        thresholds[cls] = self_confidence[labels == cls].mean()
    confident = np.where(probabilities >= thresholds[None, :], probabilities, -1.0)
    suggested = confident.argmax(axis=1)
    flagged = (confident.max(axis=1) >= 0.0) & (suggested != labels)
    issues = [
        LabelIssue(
            index=int(i),
            given=int(labels[i]),
            suggested=int(suggested[i]),
            given_probability=float(self_confidence[i]),
            suggested_probability=float(probabilities[i, suggested[i]]),
        )
        for i in rows[flagged]
    ]
    return sorted(issues, key=lambda issue: (issue.given_probability, issue.index))


def suspicious_labels(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    reference: ReferenceData | None,
    folds: int = FOLDS,
    seed: int = 0,
    source_share: float = SOURCE_SHARE,
) -> list[LabelIssue]:
    """Confident learning on ``labels``: the likeliest mistakes first (none below two labels)."""
    if len(labels) < 2:
        return []
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = out_of_sample_probabilities(
        embeddings, labels, reference=reference, folds=folds, seed=seed, source_share=source_share
    )
    return label_issues(probabilities, labels)
