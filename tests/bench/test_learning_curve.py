"""The learning-curve bench's pure pieces: its split, its checkpoints and the numbers its findings rest on."""

from __future__ import annotations

import numpy as np
import pytest

from bench.crossval import Folds
from bench.learning_curve_maths import (
    Curve,
    Point,
    checkpoints,
    criteria,
    fer_drop,
    gain,
    held_back_share,
    labels_to_reach,
    paired_gap,
    partition,
    variant_summary,
)
from mlcore.split import grouped_folds


def tiny_folds() -> Folds:
    """70 photos, ten per label, in pairs of near-duplicates (each pair one group)."""
    labels = np.repeat(np.arange(7), 10)
    groups = np.arange(70) // 2
    return Folds(names=[f"p{i}" for i in range(70)], labels=labels, test=grouped_folds(labels, groups, 5, 0))


def point(labels: int, correct: list[int], *, fer: float = 0.5, held_back: int = 0) -> Point:
    return Point(
        labels=labels, correct=np.array(correct, dtype=bool), macro_f1=0.0, fer_accuracy=fer, held_back=held_back
    )


@pytest.mark.parametrize(("layout", "sizes"), [("1-3-1", [14, 42, 14]), ("2-2-1", [28, 28, 14])])
def test_the_split_deals_whole_folds_to_each_side_with_no_group_across_sides(layout, sizes):
    folds = tiny_folds()
    split = partition(folds, layout)
    sides = [split.start, split.pool, split.held]
    assert [len(side) for side in sides] == sizes
    assert sorted(np.concatenate(sides).tolist()) == list(range(70))
    groups = [set((side // 2).tolist()) for side in sides]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert all(np.bincount(folds.labels[side], minlength=7).min() >= 1 for side in sides)


def test_seeds_that_rotate_the_folds_hold_out_disjoint_photos_and_five_hold_out_every_photo_once():
    folds = tiny_folds()
    held = [partition(folds, rotation=seed).held for seed in range(5)]
    assert sorted(np.concatenate(held).tolist()) == list(range(70))
    rotated = partition(folds, rotation=1)
    assert np.array_equal(rotated.start, np.sort(folds.test[1])) and np.array_equal(
        rotated.held, np.sort(folds.test[0])
    )


def test_the_split_refuses_other_than_five_folds():
    folds = tiny_folds()
    with pytest.raises(ValueError, match="5 folds"):
        partition(Folds(folds.names, folds.labels, folds.test[:4]))


def test_checkpoints_stop_at_the_pool_and_always_end_with_all_labels():
    assert checkpoints(175) == [0, 25, 50, 100, 175]
    assert checkpoints(200) == [0, 25, 50, 100, 200]
    assert checkpoints(437) == [0, 25, 50, 100, 200, 437]
    assert checkpoints(30) == [0, 25, 30]


def curve(seed: int, trace: list[float], start: list[int], end: list[int], **extra: float) -> Curve:
    points = [point(0, start), point(len(trace) - 1, end, fer=extra.get("fer", 0.5))]
    return Curve(variant="queue/online", seed=seed, points=points, trace=trace)


def test_labels_to_reach_reads_the_mean_over_seeds_label_by_label():
    curves = [curve(0, [0.5, 0.6, 0.7, 0.8], [1], [1]), curve(1, [0.5, 0.5, 0.6, 0.8], [1], [1])]
    assert labels_to_reach(0.65, curves) == 2  # means 0.5, 0.55, 0.65, 0.8
    assert labels_to_reach(0.9, curves) is None


def test_a_gain_on_every_photo_beats_its_interval_and_none_does_not():
    better = curve(0, [0.0, 1.0], [0] * 20, [1] * 20)
    same = curve(1, [0.5, 0.5], [0, 1] * 10, [0, 1] * 10)
    assert gain([better])["difference"] == 1.0 and gain([better])["beats_interval"]
    assert gain([same])["difference"] == 0.0 and not gain([same])["beats_interval"]
    assert gain([better, same])["difference"] == 0.5


def test_the_gain_pools_the_seeds_held_out_photos_so_its_interval_narrows_as_seeds_add_photos():
    # Each seed: 3 of 20 photos put right, 0 put wrong. One seed alone cannot tell that from noise reliably;
    # three seeds' 60 photos, paired, can.
    seeds = [curve(s, [0.5, 0.65], [0] * 10 + [1] * 10, [1] * 3 + [0] * 7 + [1] * 10) for s in range(3)]
    one, three = gain(seeds[:1]), gain(seeds)
    assert one["difference"] == three["difference"] == pytest.approx(0.15)
    assert three["photos"] == 60 and len(three["per_seed"]) == 3
    assert three["ci95"][1] - three["ci95"][0] < one["ci95"][1] - one["ci95"][0]
    assert three["beats_interval"]


def test_summary_gap_fer_drop_and_held_back_share_are_means_over_seeds():
    online = [curve(0, [0.5, 0.75], [1, 0, 0, 1], [1, 1, 1, 0], fer=0.48), curve(1, [0.5, 0.5], [1, 0], [1, 0])]
    refit = [curve(0, [0.5, 0.5], [1, 0, 0, 1], [1, 0, 0, 1]), curve(1, [0.5, 0.5], [1, 0], [0, 0])]
    assert paired_gap(online, refit) == pytest.approx(((0.75 - 0.5) + (0.5 - 0.0)) / 2)
    assert fer_drop(online) == pytest.approx(1.0)  # 2 points, then 0
    held = Curve("queue/online", 0, [point(0, [1]), point(10, [1], held_back=3)])
    assert held_back_share([held]) == pytest.approx(0.3)
    summary = variant_summary(online)
    assert summary["seeds"] == [0, 1]
    assert [row["labels"] for row in summary["checkpoints"]] == [0, 1]
    assert summary["checkpoints"][1]["accuracy_per_seed"] == [0.75, 0.5]
    assert summary["checkpoints"][1]["accuracy"] == pytest.approx(0.625)


def test_the_criteria_judge_the_queue_online_line_against_the_issues_thresholds():
    trace = [0.5, 0.52, 0.56]  # +6 points after 2 labels
    queue = [curve(0, trace, [0] * 10 + [1] * 10, [1] * 20, fer=0.49)]
    refit = [curve(0, trace, [0] * 10 + [1] * 10, [1] * 19 + [0])]

    found = criteria(queue, queue, refit, reach_at=2, labels_needed=1)

    assert found["shipped_variant"] == "queue/online"
    assert found["gain_beats_its_interval"] and found["gain_at_reach_enough"]
    assert found["gain_at_reach_points"] == pytest.approx(6.0)
    assert found["labels_to_reach_random_enough"]
    assert found["online_minus_refit_points"] == pytest.approx(5.0) and not found["online_within_refit"]
    assert found["fer_drop_points"] == pytest.approx(1.0) and found["fer_drop_small"]
    assert not criteria(queue, queue, refit, reach_at=2, labels_needed=None)["labels_to_reach_random_enough"]


def test_with_periodic_retrains_the_gains_are_the_retrain_lines_and_the_refit_gap_the_online_lines():
    online = [curve(0, [0.5, 0.5, 0.5], [0] * 10 + [1] * 10, [0] * 10 + [1] * 10)]
    refit = [curve(0, [0.5, 0.5, 0.5], [0] * 10 + [1] * 10, [0] * 10 + [1] * 10)]
    points = [point(0, [0] * 10 + [1] * 10), point(1, [1] * 15 + [0] * 5), point(2, [1] * 20, fer=0.49, held_back=1)]
    shipped = [Curve(variant="queue/retrain", seed=0, points=points)]  # scored at checkpoints only, no trace

    found = criteria(shipped, online, refit, reach_at=1, labels_needed=None)

    assert found["shipped_variant"] == "queue/retrain"
    assert found["gain_at_reach_points"] == pytest.approx(25.0)  # 0.50 → 0.75 at the checkpoint
    assert found["gain_beats_its_interval"] and found["online_minus_refit_points"] == 0.0
    assert found["fer_drop_points"] == pytest.approx(1.0) and found["held_back_share"] == 0.0
    assert gain(shipped, 1)["difference"] == pytest.approx(0.25) and gain(shipped, 1)["labels"] == 1
