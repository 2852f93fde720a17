"""Folding the seven expressions into three valences, for truth and prediction alike."""

from __future__ import annotations

import numpy as np

from mlcore.labels import LABEL_INDEX, LABELS
from mlcore.valence import VALENCE_OF, VALENCES, valence, valence_correct


def _one_hot(names: list[str]) -> np.ndarray:
    probabilities = np.full((len(names), len(LABELS)), 0.01)
    probabilities[np.arange(len(names)), [LABEL_INDEX[name] for name in names]] = 0.94
    return probabilities


def test_every_expression_has_exactly_one_of_the_three_valences():
    assert set(VALENCE_OF) == set(LABELS)
    assert set(VALENCE_OF.values()) == set(VALENCES) == {"positive", "negative", "neutral"}


def test_happy_and_surprise_are_positive_and_the_four_unpleasant_ones_negative():
    names = [VALENCES[v] for v in valence(np.arange(len(LABELS)))]
    assert dict(zip(LABELS, names, strict=True)) == {
        "angry": "negative",
        "disgust": "negative",
        "fear": "negative",
        "happy": "positive",
        "sad": "negative",
        "surprise": "positive",
        "neutral": "neutral",
    }


def test_a_wrong_expression_of_the_right_valence_counts_as_right():
    truth = np.array([LABEL_INDEX[name] for name in ("angry", "happy", "sad", "neutral", "surprise")])
    predicted = _one_hot(["fear", "surprise", "happy", "neutral", "neutral"])
    assert valence_correct(predicted, truth).tolist() == [True, True, False, True, False]
