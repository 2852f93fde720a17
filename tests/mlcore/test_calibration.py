"""Temperature scaling, the abstain threshold and the calibration error."""

from __future__ import annotations

import numpy as np

from mlcore.calibration import CONFIDENT, calibrate, fit_temperature, honest_temperature, nll, scale
from mlcore.metrics import evaluate_probabilities, expected_calibration_error
from mlcore.uncertainty import normalised_entropy


def _overconfident(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Always 95 % sure, right only 60 % of the time."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    predicted = np.where(rng.random(n) < 0.6, labels, (labels + rng.integers(1, 7, n)) % 7)
    probabilities = np.full((n, 7), 0.05 / 6)
    probabilities[np.arange(n), predicted] = 0.95
    return probabilities, labels


def test_an_overconfident_model_is_cooled_and_its_likelihood_improves():
    probabilities, labels = _overconfident()
    result = calibrate(probabilities, labels)
    assert result.temperature > 1.5
    assert result.nll_after < result.nll_before
    calibrated = scale(probabilities, result.temperature)
    assert expected_calibration_error(calibrated, labels) < expected_calibration_error(probabilities, labels) / 3


def test_answers_shown_at_least_90_percent_sure_are_right_at_least_85_percent_of_the_time():
    # Most answers are hedged (50 % sure, right half the time): they pin the likeliest temperature near 1, which
    # leaves a few answers 97 % sure that are right only 70 % of the time.
    rng = np.random.default_rng(1)
    n, n_sure = 400, 50
    labels = rng.integers(0, 7, n)
    sure_group = np.arange(n) < n_sure
    right = np.where(sure_group, np.arange(n) < 0.7 * n_sure, rng.random(n) < 0.5)
    predicted = np.where(right, labels, (labels + 1) % 7)
    top = np.where(sure_group, 0.97, 0.5)
    probabilities = np.repeat(((1 - top) / 6)[:, None], 7, axis=1)
    probabilities[np.arange(n), predicted] = top

    likeliest = fit_temperature(probabilities, labels)
    shown = scale(probabilities, likeliest)
    sure = shown.max(axis=1) >= CONFIDENT
    assert sure.any() and (shown.argmax(1) == labels)[sure].mean() < 0.85  # what likelihood alone would show

    honest = scale(probabilities, calibrate(probabilities, labels).temperature)
    sure = honest.max(axis=1) >= CONFIDENT
    assert not sure.any() or (honest.argmax(1) == labels)[sure].mean() >= 0.85
    assert honest_temperature(probabilities, labels, likeliest) > likeliest


def test_temperature_scaling_keeps_the_predicted_label():
    probabilities, _ = _overconfident()
    assert np.array_equal(scale(probabilities, 3.0).argmax(1), probabilities.argmax(1))
    assert np.allclose(scale(probabilities, 1.0), probabilities)


def test_the_threshold_answers_the_requested_share_and_those_are_more_accurate():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, 500)
    sharpness = rng.uniform(0.5, 6.0, 500)  # confident rows are right more often
    logits = rng.normal(size=(500, 7))
    right = rng.random(500) < sharpness / 6.0
    logits[np.arange(500), np.where(right, labels, (labels + 1) % 7)] += sharpness
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    result = calibrate(probabilities, labels, coverage=0.8)
    answered = normalised_entropy(scale(probabilities, result.temperature)) <= result.abstain_threshold
    assert abs(answered.mean() - 0.8) < 0.01
    overall = (probabilities.argmax(1) == labels).mean()
    assert result.accuracy_answered > overall


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    labels = np.array([0, 0, 0, 0, 1])
    probabilities = np.tile([0.8, 0.2, 0, 0, 0, 0, 0], (5, 1))
    assert expected_calibration_error(probabilities, labels) < 1e-9
    wrong = np.tile([0.0, 1.0, 0, 0, 0, 0, 0], (5, 1))
    assert abs(expected_calibration_error(wrong, labels) - 0.8) < 1e-9


def test_the_evaluation_carries_recall_per_label_and_a_confusion_matrix():
    labels = np.array([0, 0, 3, 3, 6])
    probabilities = np.eye(7)[[0, 3, 3, 3, 0]]
    result = evaluate_probabilities(probabilities, labels)
    assert result.accuracy == 0.6
    assert result.per_class["angry"] == 0.5 and result.per_class["happy"] == 1.0 and result.per_class["neutral"] == 0.0
    assert np.isnan(result.per_class["disgust"])
    assert result.confusion[0][3] == 1 and sum(map(sum, result.confusion)) == 5
    metrics = result.as_metrics("infant")
    assert "infant_recall_angry" in metrics and "infant_recall_disgust" not in metrics
    assert nll(probabilities * 0.9 + 0.1 / 7, labels) > 0
