"""The shipped line with its periodic retrain: what the app serves when labels also reach the extractor.

Every ``INFANTINO_RETRAIN_EVERY`` labeled images the app starts a full retrain on its photos plus every label so far
(``modelops.services.autotrain.retrain_when_due``), and promotes it only past the retrain guard
(``mlcore.retrain_guard``: not significantly worse on infant photos, FER2013 within tolerance). Retrains take
minutes, so the bench computes them beside the app rather than through its job worker: after the online run of an
order, for every multiple k of ``every`` among the checkpoints, the start recipe is trained on the start photos
plus the first k labeled photos (the other pool photos and the held-out ones left out) with the shared FER2013
stage, judged against the version the app had live after k labels, and, if promoted, served from then on. Here a
retrain's test photos are the bench's held-out and unlabeled pool photos, so the guard reads its validation
photos alone: the held-out photos never decide what is served. Between retrains the app consolidates every
``INFANTINO_CONSOLIDATE_EVERY`` labels: a checkpoint past a retrain scores the head refitted on the labels up to
the last consolidation under the retrained extractor, judged by the consolidation guard. The online labels after
that last consolidation are not replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.learning_curve_maths import Curve, Point
from bench.learning_curve_start import cache_key, embedded, names_digest, registry_in

if TYPE_CHECKING:
    from bench.crossval import Folds
    from bench.learning_curve_maths import Partition
    from bench.learning_curve_run import Pool
    from mlcore.model import ExpressionModel
    from mlcore.reference import ReferenceData
    from mlcore.training import TrainConfig


@dataclass(frozen=True)
class Retrained:
    """One periodic retrain: its version, model, reference data and the photos as its extractor embeds them."""

    labels: int
    version: str
    model: ExpressionModel
    reference: ReferenceData | None
    metrics: dict[str, float]
    held_x: np.ndarray
    pool_x: dict[str, np.ndarray]  # prediction id → embedding under this extractor
    promoted: bool
    verdict: str
    seconds: float


def retrain_run(
    config: TrainConfig,
    folds: Folds,
    split: Partition,
    *,
    online: Curve,
    done: list[str],
    live_metrics: dict[int, dict[str, float]],
    pool: Pool,
    work: Path,
    every: int,
    consolidate_every: int,
) -> tuple[Curve, list[dict[str, Any]]]:
    """The online curve with each checkpoint after a retrain scored on what the app would serve then."""
    names = dict(zip(pool.images, (folds.names[i] for i in split.pool), strict=True))
    held_y = folds.labels[split.held]
    points, retrains, serving = [], [], None
    for point in online.points:
        k = point.labels // every * every if every > 0 else 0
        if k and (serving is None or serving.labels < k) and k in live_metrics:
            trained = retrained(config, folds, split, [names[i] for i in done[:k]], k, pool=pool, work=work)
            trained = _judged(trained, serving.metrics if serving is not None else live_metrics[k])
            retrains.append(_summary(trained, held_y))
            serving = trained if trained.promoted else serving
        if serving is None:
            points.append(point)  # no retrain went live yet: the app serves the online line
            continue
        consolidated = point.labels // consolidate_every * consolidate_every if consolidate_every > 0 else 0
        head = serving.model.head
        if consolidated > serving.labels:
            head = _consolidation(serving, done[:consolidated], pool, seed=online.seed)
        points.append(_point(head, serving, held_y, labels=point.labels, held_back=point.held_back))
    curve = Curve(variant=online.variant.replace("/online", "/retrain"), seed=online.seed, points=points)
    return curve, retrains


def retrained(
    config: TrainConfig, folds: Folds, split: Partition, labeled: list[str], k: int, *, pool: Pool, work: Path
) -> Retrained:
    """The start recipe trained on the start photos plus ``labeled`` (kept in ``work``), and its embeddings."""
    import time

    from mlcore.training import train

    assert config.image_dir is not None
    image_dir = Path(config.image_dir)
    taught = set(labeled)
    held = [folds.names[i] for i in split.held]
    # The pool photos not labeled yet are left out, not held out: one may be a near-duplicate of a labeled one.
    untaught = [str(image_dir / folds.names[i]) for i in split.pool if folds.names[i] not in taught]
    retrain = replace(config, test_names=tuple(sorted(held)), unlabeled=tuple(untaught))
    folder = work / f"periodic-{cache_key(retrain)}-{names_digest(sorted(labeled))}"
    registry, marker = registry_in(folder), folder / "retrain.json"
    started = time.monotonic()
    if marker.exists():
        version = json.loads(marker.read_text())["version"]
    else:
        version = train(replace(retrain, work_dir=folder / "run"), registry).version
        marker.write_text(json.dumps({"version": version, "labels": k}))
    model = registry.load(version)
    held_x = embedded(model, [image_dir / name for name in held], folder / "held.npy")
    pool_names = [folds.names[i] for i in split.pool]
    pool_x = embedded(model, [image_dir / name for name in pool_names], folder / "pool.npy")
    return Retrained(
        labels=k,
        version=version,
        model=model,
        reference=registry.load_reference(model.extractor_id),
        metrics=dict(registry.version_info(version).metrics),
        held_x=held_x,
        pool_x=dict(zip(pool.images, pool_x, strict=True)),
        promoted=False,
        verdict="",
        seconds=time.monotonic() - started,
    )


def _judged(trained: Retrained, live: dict[str, float]) -> Retrained:
    """The retrain guard's verdict against the version live when the retrain began (the previous retrain's own
    metrics once one is served: its consolidations are scored on its validation photos), on validation photos."""
    from django.conf import settings

    from predictions.ml.training import verdict

    found = verdict(_validation(trained.metrics), _validation(live), tolerance=settings.INFANTINO_FORGETTING_TOLERANCE)
    return replace(trained, promoted=found.passed, verdict=found.reason)


def _validation(metrics: dict[str, float]) -> dict[str, float]:
    """A retrain's metrics without its test photos': here those are the bench's held-out ones."""
    return {key: value for key, value in metrics.items() if not key.startswith("test_")}


def _consolidation(serving: Retrained, labeled: list[str], pool: Pool, *, seed: int) -> Any:
    """The retrained head corrected on ``labeled`` under the retrained extractor, as the app's consolidation fits and
    judges it; the retrain's own head if the guard holds it back."""
    from mlcore import learner

    x = np.stack([serving.pool_x[image] for image in labeled])
    y = np.array([pool.labels[image] for image in labeled], dtype=np.int64)
    anchor = serving.model.head
    empty = (np.empty((0, x.shape[1]), dtype=np.float32), np.empty(0, dtype=np.int64))
    result = learner.update_head(anchor, new=empty, learned=(x, y), reference=serving.reference)
    return result.head if result.accepted else anchor


def _point(head: Any, serving: Retrained, held_y: np.ndarray, *, labels: int, held_back: int) -> Point:
    from mlcore.learner import evaluate
    from mlcore.metrics import macro_f1
    from mlcore.online import head_probabilities

    predicted = head_probabilities(head, serving.held_x).argmax(axis=1)
    return Point(
        labels=labels,
        correct=predicted == held_y,
        macro_f1=macro_f1(held_y, predicted),
        fer_accuracy=evaluate(head, serving.reference).get("fer_accuracy"),
        held_back=held_back,
    )


def _summary(trained: Retrained, held_y: np.ndarray) -> dict[str, Any]:
    """What the report keeps of a retrain, with its own held-out accuracy, promoted or not."""
    return {
        "held_out_accuracy": round(
            float(np.mean(trained.model.probabilities(trained.held_x).argmax(axis=1) == held_y)), 4
        ),
        "labels": trained.labels,
        "version": trained.version,
        "promoted": trained.promoted,
        "verdict": trained.verdict,
        "infant_val_accuracy": trained.metrics.get("infant_accuracy"),
        "seconds_to_train_or_load": round(trained.seconds, 1),
    }
