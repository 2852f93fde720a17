"""The offline replay of update rules: the shipped online line and the pooled, paired summary."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bench.online_update import anchor_rule, correction_rule, online_line_rule, scored, summarised
from mlcore.labels import LABEL_INDEX
from mlcore.online import fit_head, new_head
from mlcore.reference import ReferenceData
from tests.mlcore.test_learner import blobs

FEAR, HAPPY = LABEL_INDEX["fear"], LABEL_INDEX["happy"]


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    fer_x, fer_y = blobs(20, seed=1)
    infant_x, infant_y = blobs(10, seed=2)
    pool_x, pool_y = blobs(30, seed=3)
    reference = ReferenceData(
        val_x={"fer": fer_x, "infant": infant_x},
        val_y={"fer": fer_y, "infant": infant_y},
        replay_x=pool_x,
        replay_y=pool_y,
        replay_domain=np.array(["fer"] * len(pool_y)),
    )
    head = fit_head(new_head(seed=0), pool_x, pool_y, epochs=30)
    labels_x, labels_y = blobs(4, seed=5)
    labels_y = labels_y.copy()
    labels_y[labels_y == FEAR] = HAPPY  # four planted mistakes among 28 labels
    held_x, held_y = blobs(6, seed=6)
    return {
        "rotation": 0,
        "model": SimpleNamespace(head=head),
        "reference": reference,
        "kind": "retrain",
        "pool_x": labels_x,
        "pool_y": labels_y,
        "held_x": held_x,
        "held_y": held_y,
    }


def test_the_online_line_holds_back_planted_mistakes_and_counts_them(data):
    order = np.arange(len(data["pool_y"]))
    found = list(online_line_rule(4.0)(data, order, [10, len(order)]))
    assert [mark for mark, _, _ in found] == [10, len(order)]
    held_back = found[-1][2]
    assert 1 <= held_back <= 4  # the wrong fear labels wait; the right ones are learned


def test_the_summary_pairs_each_rule_with_the_anchor_on_the_same_photos(data):
    order = np.arange(len(data["pool_y"]))
    marks = [len(order)]
    scores = {
        "anchor": {-1: [scored(head, data) | {"held_back": 0} for _, head in anchor_rule(data, order, marks)]},
        "correction/4": {
            -1: [scored(head, data) | {"held_back": 0} for _, head in correction_rule(4.0)(data, order, marks)]
        },
    }
    summary = summarised(scores)
    assert summary["anchor"]["all"]["minus_anchor"] == [0.0, 0.0, 0.0]
    corrected = summary["correction/4"]["all"]
    low, mean, high = corrected["minus_anchor"][1], corrected["minus_anchor"][0], corrected["minus_anchor"][2]
    assert low <= mean <= high
    assert 0.0 <= corrected["accuracy"] <= 1.0
