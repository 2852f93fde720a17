"""Confident learning: a planted mislabel among separable labels is the first one flagged."""

from __future__ import annotations

import numpy as np

from mlcore.label_noise import label_issues, suspicious_labels
from tests.mlcore.test_consolidation import source_pool
from tests.mlcore.test_learner import blobs


def test_a_flipped_label_is_flagged_with_what_the_embedding_looks_like():
    x, y = blobs(4, seed=11)
    planted = 9  # a class-2 row, relabeled as class 5
    flipped = y.copy()
    flipped[planted] = 5

    issues = suspicious_labels(x, flipped, reference=source_pool(10), seed=0)

    assert issues and issues[0].index == planted
    assert (issues[0].given, issues[0].suggested) == (5, 2)
    assert issues[0].given_probability < 0.2 < issues[0].suggested_probability


def test_clean_separable_labels_raise_no_issue():
    x, y = blobs(4, seed=12)

    assert suspicious_labels(x, y, reference=source_pool(10), seed=0) == []


def test_an_issue_needs_another_class_above_its_own_threshold():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.zeros((4, 7))
    probabilities[:, 0] = [0.9, 0.2, 0.1, 0.6]
    probabilities[:, 1] = [0.1, 0.3, 0.9, 0.4]
    # thresholds: class 0 = mean(0.9, 0.2) = 0.55, class 1 = mean(0.9, 0.4) = 0.65

    issues = label_issues(probabilities, labels)

    # Row 1 (0.3 < 0.65 for class 1) is not confidently anything else; row 3 clears class 0's 0.55.
    assert [(issue.index, issue.given, issue.suggested) for issue in issues] == [(3, 1, 0)]


def test_issues_come_lowest_self_confidence_first():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probabilities = np.zeros((6, 7))
    probabilities[:, 0] = [0.9, 0.9, 0.05, 0.8, 0.1, 0.1]
    probabilities[:, 1] = [0.1, 0.1, 0.95, 0.2, 0.9, 0.9]

    issues = label_issues(probabilities, labels)

    assert [issue.index for issue in issues] == [2, 3]


def test_a_single_label_cannot_be_cross_fitted_and_is_never_flagged():
    x, y = blobs(1, seed=13)

    assert suspicious_labels(x[:1], y[:1], reference=None) == []
