"""Held-out comparisons: which answers users see, and how far an accuracy or a difference can be trusted."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.comparison import (
    CONFIDENT_AT,
    accuracy_interval,
    answered,
    confident,
    correct,
    paired_difference,
    shown,
)
from mlcore.uncertainty import normalised_entropy

SURE = np.array([0.94, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
LEANING = np.array([0.60, 0.10, 0.10, 0.05, 0.05, 0.05, 0.05])
UNIFORM = np.full(7, 1 / 7)


def test_a_photo_is_answered_unless_its_entropy_crosses_the_threshold_as_the_served_model_decides():
    probabilities = np.stack([SURE, LEANING, UNIFORM])
    threshold = float(normalised_entropy(LEANING)[0])  # the served model says "unsure" only above it

    assert answered(probabilities, threshold).tolist() == [True, True, False]
    assert answered(probabilities, 1.0).tolist() == [True, True, True]


def test_a_confident_answer_needs_a_high_top_probability_and_must_not_be_unsure():
    probabilities = np.stack([SURE, LEANING, UNIFORM])

    assert SURE.max() >= CONFIDENT_AT > LEANING.max()
    assert confident(probabilities, 1.0).tolist() == [True, False, False]
    assert confident(probabilities, 0.0).tolist() == [False, False, False]  # a threshold of 0 makes all unsure


def test_shown_counts_the_share_and_accuracy_of_the_picked_photos():
    is_correct = correct(np.stack([SURE, SURE, LEANING, UNIFORM]), np.array([0, 1, 0, 0]))
    result = shown(is_correct, np.array([True, True, True, False]))

    assert (result.n, result.share) == (3, 0.75)
    assert result.accuracy == pytest.approx(2 / 3)


def test_shown_has_no_accuracy_when_nothing_is_shown():
    assert shown(np.array([True, False]), np.array([False, False])).accuracy is None


def test_the_accuracy_interval_brackets_the_accuracy_and_is_the_same_on_every_run():
    is_correct = np.random.default_rng(1).random(80) < 0.6

    first, again = accuracy_interval(is_correct), accuracy_interval(is_correct)

    assert first == again
    assert first.value == pytest.approx(is_correct.mean())
    assert first.low < first.value < first.high
    assert 0.1 < first.high - first.low < 0.3  # about ±2 standard errors of a proportion on 80 photos


def test_the_accuracy_interval_narrows_with_more_photos():
    few = accuracy_interval(np.arange(40) % 2 == 0)
    many = accuracy_interval(np.arange(400) % 2 == 0)

    assert many.high - many.low < few.high - few.low


def test_an_interval_needs_at_least_one_photo():
    with pytest.raises(ValueError, match="at least one photo"):
        accuracy_interval(np.array([], dtype=bool))


def test_two_versions_right_on_the_same_photos_differ_by_exactly_nothing():
    is_correct = np.random.default_rng(2).random(60) < 0.5

    difference = paired_difference(is_correct, is_correct)

    assert (difference.value, difference.low, difference.high) == (0.0, 0.0, 0.0)


def test_a_version_right_wherever_the_other_is_and_on_more_photos_is_better_with_an_interval_above_zero():
    baseline = np.arange(100) % 2 == 0
    candidate = baseline | (np.arange(100) % 4 == 1)  # also right on a quarter of the photos the baseline missed

    difference = paired_difference(baseline, candidate)

    assert difference.value == pytest.approx(0.25)
    assert 0.0 < difference.low < difference.value < difference.high


def test_the_paired_interval_is_narrower_than_one_accuracys_own_when_the_versions_agree_mostly():
    rng = np.random.default_rng(3)
    baseline = rng.random(120) < 0.5
    candidate = baseline.copy()
    candidate[:10] = ~candidate[:10]

    difference = paired_difference(baseline, candidate)
    alone = accuracy_interval(baseline)

    # Two separate intervals would give the difference one ~1.4 times as wide as either.
    assert difference.high - difference.low < 0.7 * (alone.high - alone.low)


def test_a_paired_difference_refuses_scores_of_different_photos():
    with pytest.raises(ValueError, match="same photos"):
        paired_difference(np.ones(5, dtype=bool), np.ones(6, dtype=bool))
