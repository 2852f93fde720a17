"""Comparing versions on held-out photos: the answers users are shown, and how far an accuracy can be trusted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlcore.uncertainty import normalised_entropy

CONFIDENT_AT = 0.90  # a top calibrated probability from which an answer reads as confident
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Shown:
    """The answers a rule lets through: how many, what share of all, and how many of those are right."""

    n: int
    share: float
    accuracy: float | None  # None when the rule lets nothing through


@dataclass(frozen=True)
class Estimate:
    """A value with its 95 % bootstrap interval."""

    value: float
    low: float
    high: float


def correct(probabilities: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Whether each photo's most probable label is its true one."""
    return np.asarray(probabilities).argmax(axis=1) == np.asarray(y_true)


def answered(probabilities: np.ndarray, abstain_threshold: float) -> np.ndarray:
    """Photos not turned into "unsure", by the same rule as ``ExpressionModel.predict_embedding``."""
    return normalised_entropy(probabilities) <= abstain_threshold


def confident(probabilities: np.ndarray, abstain_threshold: float, *, at: float = CONFIDENT_AT) -> np.ndarray:
    """Answered photos whose top calibrated probability is at least ``at``."""
    return answered(probabilities, abstain_threshold) & (np.asarray(probabilities).max(axis=1) >= at)


def shown(is_correct: np.ndarray, mask: np.ndarray) -> Shown:
    """How the photos picked by ``mask`` fare."""
    n = int(np.count_nonzero(mask))
    total = len(is_correct)
    return Shown(
        n=n,
        share=n / total if total else 0.0,
        accuracy=float(np.mean(is_correct[mask])) if n else None,
    )


def _draws(n: int, *, draws: int, seed: int) -> np.ndarray:
    if n == 0:
        raise ValueError("a bootstrap interval needs at least one photo")
    return np.random.default_rng(seed).integers(0, n, size=(draws, n))


def _estimate(value: float, resampled: np.ndarray) -> Estimate:
    low, high = np.quantile(resampled, [0.025, 0.975])
    return Estimate(value=value, low=float(low), high=float(high))


def accuracy_interval(is_correct: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED) -> Estimate:
    """Accuracy with a 95 % percentile interval from resampling the photos with replacement."""
    is_correct = np.asarray(is_correct, dtype=np.float64)
    picks = _draws(len(is_correct), draws=draws, seed=seed)
    return _estimate(float(is_correct.mean()), is_correct[picks].mean(axis=1))


def paired_difference(
    baseline: np.ndarray, candidate: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
) -> Estimate:
    """Accuracy of ``candidate`` minus ``baseline`` on the same photos (same order), with a paired 95 % interval.

    Each draw resamples photos once and scores both on them, so photos both get right or both get wrong
    cancel out: the interval is narrower than two separate intervals would suggest.
    """
    baseline = np.asarray(baseline, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if baseline.shape != candidate.shape:
        raise ValueError(f"paired scores need the same photos: {len(baseline)} against {len(candidate)}")
    picks = _draws(len(baseline), draws=draws, seed=seed)
    resampled = candidate[picks].mean(axis=1) - baseline[picks].mean(axis=1)
    return _estimate(float(candidate.mean() - baseline.mean()), resampled)
