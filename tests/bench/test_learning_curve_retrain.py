"""The shipped line with periodic retrains: which model each checkpoint scores, on tiny heads (no training)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bench import learning_curve_retrain
from bench.learning_curve_maths import Curve, Point, partition
from bench.learning_curve_retrain import Retrained, retrain_run
from bench.learning_curve_run import Pool
from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.reference import ReferenceData
from tests.bench.test_learning_curve import tiny_folds
from tests.mlcore.test_learner import blobs

EVERY, CONSOLIDATE_EVERY = 20, 10


@pytest.fixture
def setting():  # type: ignore[no-untyped-def]
    """The tiny split, its pool as the app would hold it, and a head that knows the blobs the photos are."""
    folds = tiny_folds()
    split = partition(folds)
    centres, _ = blobs(1, seed=0, spread=0.0)  # each class's centre
    rng = np.random.default_rng(1)

    def embed(labels: np.ndarray) -> np.ndarray:
        return (centres[labels] + rng.normal(scale=0.6, size=(len(labels), 64))).astype(np.float32)

    images = [f"image-{i}" for i in range(len(split.pool))]
    pool_y = folds.labels[split.pool]
    pool = Pool(base="1", images=images, labels=dict(zip(images, pool_y.tolist(), strict=True)), vectors={})
    x, y = blobs(20, seed=2)
    head = fit_head(new_head(seed=0), x, y, epochs=30, batch_size=32, seed=0)
    vx, vy = blobs(6, seed=3)
    reference = ReferenceData(
        val_x={"infant": vx, "fer": vx},
        val_y={"infant": vy, "fer": vy},
        replay_x=x,
        replay_y=y,
        replay_domain=np.full(len(y), "infant"),
    )
    held_x, pool_x = embed(folds.labels[split.held]), dict(zip(images, embed(pool_y), strict=True))
    return SimpleNamespace(
        folds=folds, split=split, pool=pool, head=head, reference=reference, held_x=held_x, pool_x=pool_x
    )


def online_curve(setting, marks: list[int]) -> Curve:  # type: ignore[no-untyped-def]
    """An online line that gets every held-out photo wrong: whatever a retrain serves, it shows."""
    wrong = np.zeros(len(setting.split.held), dtype=bool)
    points = [Point(labels=m, correct=wrong, macro_f1=0.0, fer_accuracy=0.5, held_back=m // 10) for m in marks]
    return Curve(variant="queue/online", seed=0, points=points)


def run(setting, monkeypatch, *, live: dict[str, float], marks: list[int]):  # type: ignore[no-untyped-def]
    made = []

    def retrained(config, folds, split, labeled, k, *, pool, work):  # type: ignore[no-untyped-def]
        made.append((k, list(labeled)))
        model = SimpleNamespace(head=setting.head, probabilities=lambda x: head_probabilities(setting.head, x))
        metrics = {"infant_accuracy": 0.6, "infant_n": 30.0, "fer_accuracy": 0.5}
        return Retrained(k, str(k), model, setting.reference, metrics, setting.held_x, setting.pool_x, False, "", 0.0)

    monkeypatch.setattr(learning_curve_retrain, "retrained", retrained)
    online = online_curve(setting, marks)
    curve, summaries = retrain_run(
        None,
        setting.folds,
        setting.split,
        online=online,
        done=list(setting.pool.images),
        live_metrics={m: live for m in marks},
        pool=setting.pool,
        work=None,
        every=EVERY,
        consolidate_every=CONSOLIDATE_EVERY,
    )
    return online, curve, summaries, made


def test_checkpoints_before_the_first_retrain_are_the_online_line_and_after_it_the_retrained_model(
    setting, monkeypatch
):
    live = {"infant_accuracy": 0.55, "infant_n": 14.0, "fer_accuracy": 0.5}
    online, curve, summaries, made = run(setting, monkeypatch, live=live, marks=[0, 10, 20, 30, 42])

    assert curve.variant == "queue/retrain"
    assert curve.points[:2] == online.points[:2]  # no retrain yet: the app serves the online line
    assert [k for k, _ in made] == [20]  # a retrain at each checkpoint that is a multiple of EVERY
    assert made[0][1] == [setting.folds.names[i] for i in setting.split.pool[:20]]  # on the first 20 labeled
    assert summaries[0]["promoted"] and summaries[0]["labels"] == 20
    assert all(point.accuracy > 0.8 for point in curve.points[2:])  # retrained, then consolidated under it
    assert [p.held_back for p in curve.points] == [p.held_back for p in online.points]


def test_a_retrain_the_guard_holds_back_leaves_the_online_line_served(setting, monkeypatch):
    forgot = {"infant_accuracy": 0.55, "infant_n": 14.0, "fer_accuracy": 0.6}  # the retrain would lose 10 points
    online, curve, summaries, _ = run(setting, monkeypatch, live=forgot, marks=[0, 10, 20, 30])

    assert not summaries[0]["promoted"] and "FER2013 accuracy fell" in summaries[0]["verdict"]
    assert curve.points == online.points
