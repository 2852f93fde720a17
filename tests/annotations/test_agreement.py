from __future__ import annotations

import pytest

from annotations.agreement import consensus, krippendorff_alpha_nominal, pairwise_agreement


def test_alpha_matches_krippendorffs_own_nominal_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal data, 4 observers,
    # 12 units with missing values: alpha = 0.743.
    a = [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None]
    b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3]
    c = [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None]
    d = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]
    units = [[v for v in unit if v is not None] for unit in zip(a, b, c, d, strict=True)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)


def test_perfect_agreement_is_one_and_systematic_disagreement_is_negative():
    assert krippendorff_alpha_nominal([["happy", "happy"], ["sad", "sad"], ["fear", "fear"]]) == 1.0
    assert krippendorff_alpha_nominal([["happy", "sad"], ["sad", "happy"]]) < 0


def test_alpha_is_undefined_without_pairable_or_varied_labels():
    assert krippendorff_alpha_nominal([["happy"], ["sad"]]) is None
    assert krippendorff_alpha_nominal([["happy", "happy"]]) is None


def test_per_image_agreement_is_the_share_of_agreeing_pairs():
    assert pairwise_agreement(["happy", "happy", "sad"]) == pytest.approx(1 / 3)
    assert pairwise_agreement(["happy"]) is None


def test_consensus_needs_enough_labels_and_a_strict_majority():
    assert consensus(["happy"], needed=1) == "happy"
    assert consensus(["happy"], needed=2) is None
    assert consensus(["happy", "sad"], needed=2) is None
    assert consensus(["happy", "sad", "happy"], needed=2) == "happy"
