"""The learning-curve bench's pure pieces: the three-way photo split, the checkpoints, and the summary maths.

Nothing here touches Django, the registry or a network, so ``tests/bench`` checks it on tiny arrays.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcore.comparison import paired_difference

if TYPE_CHECKING:
    from bench.crossval import Folds

MARKS = (0, 25, 50, 100, 200)  # labels after which every variant is scored; "all labels" is added to them
REACH_AT = 100  # the queue order should reach random order's accuracy at this many labels with fewer
# What issue 15 counts as done, for the shipped path (queue order, online method).
WANTED = {"gain_at_reach_points": 3.0, "labels_to_reach": 70, "refit_gap_points": 2.0, "fer_drop_points": 2.0}
WANTED_HELD_BACK_SHARE = 0.2
# Five grouped, stratified folds of ~20 % each, dealt to the start model, the pool to label and the held-out
# photos, named by how many folds each side gets. One fold is held out, so seeds that rotate the folds (seed s
# deals fold (i + s) mod 5 as fold i) hold out disjoint photos: pooled, up to five seeds are one larger held-out set.
LAYOUTS = {"1-3-1": ((0,), (1, 2, 3), (4,)), "2-2-1": ((0, 1), (2, 3), (4,)), "3-1-1": ((0, 1, 2), (3,), (4,))}
LAYOUT = "1-3-1"  # a first model on ~90 photos, then ~260 labeled through the app
FOLDS = 5


@dataclass(frozen=True)
class Partition:
    """Indices into ``Folds.names``: the start model's photos, the pool to label, and the held-out photos."""

    start: np.ndarray
    pool: np.ndarray
    held: np.ndarray


def partition(folds: Folds, layout: str = LAYOUT, *, rotation: int = 0) -> Partition:
    """Whole folds to each side as ``layout`` deals them, rotated by ``rotation`` folds, so no near-duplicate
    group straddles two sides."""
    if len(folds.test) != FOLDS:
        raise ValueError(f"the learning curve splits {FOLDS} folds, not {len(folds.test)}")

    def joined(which: tuple[int, ...]) -> np.ndarray:
        return np.sort(np.concatenate([folds.test[(i + rotation) % FOLDS] for i in which]))

    start, pool, held = LAYOUTS[layout]
    return Partition(start=joined(start), pool=joined(pool), held=joined(held))


def checkpoints(total: int, marks: tuple[int, ...] = MARKS) -> list[int]:
    """The label counts scored: every mark below ``total``, then ``total`` itself (all labels)."""
    if total < 0:
        raise ValueError(f"a pool cannot hold {total} labels")
    return [mark for mark in marks if mark < total] + [total]


@dataclass(frozen=True)
class Point:
    """One variant, one seed, after ``labels`` labels: scores on the held-out photos and FER2013 validation."""

    labels: int
    correct: np.ndarray  # per held-out photo, in a fixed order: the paired bootstrap needs the photos matched
    macro_f1: float
    fer_accuracy: float | None
    held_back: int  # labels the forgetting guard kept off the live line so far

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.correct))


@dataclass(frozen=True)
class Curve:
    """One run: a variant (order/method) under one seed, its checkpoints and, online, accuracy after every label."""

    variant: str
    seed: int
    points: list[Point]
    trace: list[float] = field(default_factory=list)  # held-out accuracy after 0, 1, 2, … labels

    def at(self, labels: int) -> Point:
        return next(point for point in self.points if point.labels == labels)


def grouped(runs: list[Curve]) -> dict[str, list[Curve]]:
    """The runs by variant, seeds in the order run."""
    variants: dict[str, list[Curve]] = {}
    for curve in runs:
        variants.setdefault(curve.variant, []).append(curve)
    return variants


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def variant_summary(curves: list[Curve]) -> dict[str, Any]:
    """Per checkpoint the mean over seeds and each seed's value; then the gain of all labels over the start."""
    checkpoints_ = [point.labels for point in curves[0].points]
    rows = []
    for labels in checkpoints_:
        points = [curve.at(labels) for curve in curves]
        row: dict[str, Any] = {"labels": labels}
        for key in ("accuracy", "macro_f1", "fer_accuracy", "held_back"):
            values = [getattr(p, key) for p in points if getattr(p, key) is not None]
            row[key] = _mean(values)
            row[f"{key}_per_seed"] = [round(v, 4) for v in values]
        rows.append(row)
    return {"seeds": [curve.seed for curve in curves], "checkpoints": rows, "gain_vs_start": gain(curves)}


def gain(curves: list[Curve], labels: int | None = None) -> dict[str, Any]:
    """Held-out accuracy after all labels (or ``labels``) minus the start's, paired on the photos and pooled over
    the seeds.

    Seeds rotate the folds, so each seed's held-out photos are its own and, pooled, they are one held-out set
    (as cross-validation pools its folds): the interval is a paired bootstrap over all of them.
    """
    after = [c.points[-1] if labels is None else c.at(labels) for c in curves]
    found = [paired_difference(c.points[0].correct, p.correct) for c, p in zip(curves, after, strict=True)]
    pooled = paired_difference(
        np.concatenate([c.points[0].correct for c in curves]), np.concatenate([p.correct for p in after])
    )
    return {
        "labels": after[0].labels,
        "photos": sum(len(c.points[0].correct) for c in curves),
        "difference": round(pooled.value, 4),
        "ci95": [round(pooled.low, 4), round(pooled.high, 4)],
        "per_seed": [[round(f.value, 4), round(f.low, 4), round(f.high, 4)] for f in found],
        "beats_interval": pooled.low > 0,
    }


def mean_trace(curves: list[Curve]) -> list[float]:
    """Held-out accuracy after each label count, averaged over seeds, as far as every seed got."""
    length = min(len(curve.trace) for curve in curves)
    return [statistics.fmean(curve.trace[k] for curve in curves) for k in range(length)]


def labels_to_reach(target: float, curves: list[Curve]) -> int | None:
    """The fewest labels after which the seeds' mean accuracy reaches ``target``; None if it never does."""
    return next((k for k, value in enumerate(mean_trace(curves)) if value >= target - 1e-12), None)


def accuracy_at(curves: list[Curve], labels: int) -> float:
    """Mean held-out accuracy over seeds after ``labels`` labels (from the per-label trace, else a checkpoint)."""
    return statistics.fmean(curve.trace[labels] if curve.trace else curve.at(labels).accuracy for curve in curves)


def paired_gap(online: list[Curve], refit: list[Curve]) -> float:
    """Online minus refit held-out accuracy after all labels, per seed on the same labels, averaged."""
    by_seed = {curve.seed: curve for curve in refit}
    return statistics.fmean(c.points[-1].accuracy - by_seed[c.seed].points[-1].accuracy for c in online)


def fer_drop(curves: list[Curve]) -> float | None:
    """FER2013 validation accuracy at the start minus after all labels, in points, averaged over seeds."""
    drops = [
        100 * (c.points[0].fer_accuracy - c.points[-1].fer_accuracy)
        for c in curves
        if c.points[0].fer_accuracy is not None and c.points[-1].fer_accuracy is not None
    ]
    return _mean(drops)


def held_back_share(curves: list[Curve]) -> float:
    """The share of all labels given that the guard held back, averaged over seeds."""
    return statistics.fmean(c.points[-1].held_back / max(1, c.points[-1].labels) for c in curves)


def criteria(
    shipped: list[Curve], online: list[Curve], refit: list[Curve], *, reach_at: int, labels_needed: int | None
) -> dict[str, Any]:
    """The shipped path (queue order; online with consolidation, and the periodic retrain when on) against what
    issue 15 asks, each value beside its verdict. The online-refit gap compares the online line with the refit of
    the same labels; the held-back share is the online line's (a retrain holds no label back)."""
    at_reach = 100 * (accuracy_at(shipped, reach_at) - accuracy_at(shipped, 0))
    gap, drop, share = 100 * paired_gap(online, refit), fer_drop(shipped), held_back_share(online)
    return {
        "shipped_variant": shipped[0].variant,
        "gain_beats_its_interval": gain(shipped)["beats_interval"],
        "gain_at_reach_points": round(at_reach, 2),
        "gain_at_reach_enough": at_reach >= WANTED["gain_at_reach_points"],
        "labels_to_reach_random": labels_needed,
        "labels_to_reach_random_enough": labels_needed is not None and labels_needed <= WANTED["labels_to_reach"],
        "online_minus_refit_points": round(gap, 2),
        "online_within_refit": abs(gap) <= WANTED["refit_gap_points"],
        "fer_drop_points": drop,
        "fer_drop_small": drop is not None and drop <= WANTED["fer_drop_points"],
        "held_back_share": round(share, 4),
        "held_back_small": share <= WANTED_HELD_BACK_SHARE,
    }


def retrain_summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The full-retrain point over the seeds: mean accuracy, and its gain over the start pooled as ``gain`` is."""
    start = np.concatenate([point["start_correct"] for point in points])
    after = np.concatenate([point["correct"] for point in points])
    found = paired_difference(start, after)
    return {
        "labels": min(point["labels"] for point in points),
        "versions": [point["version"] for point in points],
        "accuracy": round(float(after.mean()), 4),
        "accuracy_per_seed": [point["accuracy"] for point in points],
        "macro_f1_per_seed": [point["macro_f1"] for point in points],
        "fer_accuracy_per_seed": [point["fer_accuracy"] for point in points],
        "gain_vs_start": {"difference": round(found.value, 4), "ci95": [round(found.low, 4), round(found.high, 4)]},
    }
