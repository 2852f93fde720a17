"""The frozen-backbone comparison's heads and paired report, on generated features."""

from __future__ import annotations

import numpy as np
import pytest

from bench.backbones import cross_validated, paired, report
from bench.crossval import Folds
from mlcore.labels import NUM_CLASSES


@pytest.fixture(scope="module")
def folds() -> Folds:
    labels = np.repeat(np.arange(NUM_CLASSES), 40)  # the MLP recipe's 60 epochs need a few batches each
    order = np.random.default_rng(0).permutation(len(labels))
    return Folds(names=[f"p{i}" for i in range(len(labels))], labels=labels, test=list(np.array_split(order, 4)))


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_features_that_carry_the_label_beat_noise_by_more_than_the_paired_interval(folds: Folds, kind: str) -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(len(folds.labels), 24))
    informative = noise.copy()
    informative[np.arange(len(folds.labels)), folds.labels] += 3.0
    from_noise = cross_validated(folds, noise, kind)
    from_signal = cross_validated(folds, informative, kind)
    assert np.allclose(from_signal.sum(axis=1), 1.0)  # every photo scored once, by the head of its own fold
    scored = report(folds, from_signal, 0.0)
    assert scored["accuracy"] > 0.5 and len(scored["fold_accuracies"]) == 4
    difference = paired(folds, from_noise, from_signal)
    assert difference["accuracy_difference_ci95"][0] > 0
    assert difference["macro_f1_difference_ci95"][0] > 0
