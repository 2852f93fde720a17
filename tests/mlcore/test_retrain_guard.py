"""The retrain guard: a version trained apart goes live unless it is significantly worse on infants or forgets."""

from __future__ import annotations

import pytest

from mlcore import retrain_guard


def scored(accuracy: float, photos: int, *, fer: float = 0.50, **extra: float) -> dict[str, float]:
    return {"infant_accuracy": accuracy, "infant_n": float(photos), "fer_accuracy": fer, **extra}


def test_a_retrain_lower_on_fewer_harder_photos_but_not_significantly_goes_live():
    # The learning curve's case: 0.367 on its own 30 validation photos against 0.571 on the live line's 14.
    passed, reason = retrain_guard.judge(scored(0.367, 30), scored(0.571, 14), tolerance=0.02)

    assert passed, reason
    assert "0.367 on 30 held-out photos" in reason and "0.571 on 14" in reason


def test_a_retrain_significantly_worse_on_infants_is_held_back():
    passed, reason = retrain_guard.judge(scored(0.20, 120), scored(0.55, 120), tolerance=0.02)

    assert not passed and "significantly lower" in reason


def test_a_retrain_that_forgets_fer2013_is_held_back_however_good_on_infants():
    passed, reason = retrain_guard.judge(scored(0.70, 100, fer=0.45), scored(0.50, 100, fer=0.50), tolerance=0.02)

    assert not passed and reason.startswith("FER2013 accuracy fell 0.050")


def test_validation_and_test_photos_are_pooled_and_bins_count_an_online_versions_photos():
    retrained = scored(0.40, 30, test_infant_accuracy=0.60, test_infant_n=70.0)
    online = {"infant_accuracy": 0.5, "infant_rel2_n": 6.0, "infant_rel7_n": 8.0, "infant_rel7_acc": 0.9}

    assert retrain_guard.held_out(retrained) == (pytest.approx(0.54), 100)
    assert retrain_guard.held_out(online) == (0.5, 14)


def test_the_p_value_is_one_sided_and_falls_with_more_photos():
    assert retrain_guard.lower_p((0.6, 50), (0.5, 50)) > 0.5
    assert retrain_guard.lower_p((0.4, 400), (0.5, 400)) < retrain_guard.lower_p((0.4, 40), (0.5, 40)) < 0.5


def test_without_photo_counts_the_point_values_decide():
    assert retrain_guard.judge({"infant_accuracy": 0.5}, {"infant_accuracy": 0.4}, tolerance=0.02)[0]
    passed, reason = retrain_guard.judge({"infant_accuracy": 0.4}, {"infant_accuracy": 0.5}, tolerance=0.02)
    assert not passed and "below the live version's 0.500" in reason
    assert not retrain_guard.judge({}, {"infant_accuracy": 0.5}, tolerance=0.02)[0]
