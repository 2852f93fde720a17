"""Online learning from a single label: replay, ``partial_fit`` on a copy of the head, the forgetting guard.

One update takes the live head, the new sample(s) and a class-balanced replay batch drawn from earlier
labels and from the reference pool that travels with the extractor (source-domain and training
embeddings), runs a few ``partial_fit`` steps on a copy, then judges the copy image by image against
the anchor (the last offline-trained version the online line descends from) and its parent on the
same validation images (``mlcore.guard``): anchored, small drops cannot pile up label after label;
paired, a correct label is not refused for noise. Without reference data the guard cannot judge and says so.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier

from mlcore import guard
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import accuracy, expected_calibration_error, macro_f1, reliability_bins, reliability_metrics
from mlcore.online import CLASSES, SKOPS_TRUSTED_TYPES, head_probabilities, load_head
from mlcore.reference import ReferenceData

GUARD_PASSED = "passed"
GUARD_FAILED = "failed"
GUARD_OFF = "off"
GUARD_NO_REFERENCE = "skipped: no reference data for this extractor"
LOSS_CURVE_KEPT = 20


@dataclass(frozen=True)
class LearnerConfig:
    replay_size: int = 16  # replay rows per step; 0 turns replay off
    new_sample_repeats: int = 4  # copies of the new sample(s) in each step's batch, so one label is heard
    steps: int = 1  # partial_fit calls per update, each with a fresh replay batch
    tolerance: float = 0.02  # largest source-domain (FER2013) accuracy drop below the anchor
    rehearsals: int = 3  # steps of source-domain replay (with the label) an update may add to meet that bound
    alpha: float = guard.ALPHA  # level of the paired test that holds back a significantly worse candidate
    guard: bool = True
    seed: int = 0


@dataclass(frozen=True)
class UpdateResult:
    head: MLPClassifier
    metrics: dict[str, float]  # "<domain>_accuracy", "<domain>_macro_f1", "replay_rows", "guard_<domain>_…"
    guard: str  # GUARD_PASSED, GUARD_FAILED, GUARD_OFF or GUARD_NO_REFERENCE
    reasons: tuple[str, ...] = field(default=())  # why the guard failed, one readable line per broken rule

    @property
    def accepted(self) -> bool:
        return self.guard != GUARD_FAILED


def evaluate(head: MLPClassifier, reference: ReferenceData | None, *, temperature: float = 1.0) -> dict[str, float]:
    """Accuracy, macro-F1, ECE and reliability bins on each domain's validation set (empty without reference data)."""
    if reference is None:
        return {}
    metrics: dict[str, float] = {}
    for domain in reference.domains:
        x, y = reference.val_x[domain], reference.val_y[domain]
        if not len(y):
            continue
        probabilities = head_probabilities(head, x, temperature=temperature)
        predicted = probabilities.argmax(axis=1)
        metrics[f"{domain}_accuracy"] = accuracy(y, predicted)
        metrics[f"{domain}_macro_f1"] = macro_f1(y, predicted)
        metrics[f"{domain}_ece"] = expected_calibration_error(probabilities, y)
        metrics.update(reliability_metrics(reliability_bins(probabilities, y), domain))
    return metrics


def balanced_sample(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` rows: a class drawn uniformly among those present, then a row of that class."""
    if size <= 0 or not len(labels):
        return np.empty(0, dtype=np.int64)
    present = np.unique(labels)
    classes = rng.choice(present, size=size, replace=True)
    picked = np.empty(size, dtype=np.int64)
    for cls in np.unique(classes):
        slots = np.flatnonzero(classes == cls)
        picked[slots] = rng.choice(np.flatnonzero(labels == cls), size=len(slots), replace=True)
    return picked


def replay_batch(
    *,
    reference: ReferenceData | None,
    earlier_x: np.ndarray | None,
    earlier_y: np.ndarray | None,
    size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced rows, half from earlier labels and half from the reference pool (or all from either)."""
    pools = []
    if earlier_x is not None and earlier_y is not None and len(earlier_y):
        pools.append((earlier_x, earlier_y))
    if reference is not None and len(reference.replay_y):
        pools.append((reference.replay_x, reference.replay_y))
    if size <= 0 or not pools:
        return np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64)
    shares = [size // len(pools) + (1 if i < size % len(pools) else 0) for i in range(len(pools))]
    xs, ys = [], []
    for (x, y), share in zip(pools, shares, strict=True):
        idx = balanced_sample(y, share, rng)
        xs.append(x[idx])
        ys.append(y[idx])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def update_head(
    head: MLPClassifier,
    new_x: np.ndarray,
    new_y: np.ndarray,
    *,
    reference: ReferenceData | None,
    anchor: MLPClassifier | None = None,
    earlier_x: np.ndarray | None = None,
    earlier_y: np.ndarray | None = None,
    temperature: float = 1.0,
    config: LearnerConfig = LearnerConfig(),
) -> UpdateResult:
    """Learn ``new_x``/``new_y`` on a copy of ``head`` and judge it; ``head`` itself is never changed.

    ``anchor`` is the head of the offline-trained version the line descends from; without it ``head`` is its own.
    """
    rng = np.random.default_rng(config.seed)
    candidate = copy.deepcopy(head)
    new_x = np.atleast_2d(np.asarray(new_x, dtype=np.float32))
    new_y = np.atleast_1d(np.asarray(new_y, dtype=np.int64))
    if new_y.min() < 0 or new_y.max() >= NUM_CLASSES:
        raise ValueError(f"labels must be class indices 0..{NUM_CLASSES - 1}")
    replay_rows = 0
    for _ in range(max(1, config.steps)):
        rx, ry = replay_batch(
            reference=reference, earlier_x=earlier_x, earlier_y=earlier_y, size=config.replay_size, rng=rng
        )
        replay_rows += _step(candidate, new_x, new_y, rx, ry, config.new_sample_repeats)
    verdict = None
    if config.guard and reference is not None:
        verdict, rows, rehearsals = _judged(
            candidate, head, anchor, reference, new=(new_x, new_y), rng=rng, config=config
        )
        replay_rows += rows
    # partial_fit appends to loss_curve_ forever; thousands of entries made every saved version ~1 MB
    # and its serialisation ~100 ms slower. Only the last loss matters to the optimiser.
    candidate.loss_curve_ = candidate.loss_curve_[-LOSS_CURVE_KEPT:]
    metrics = evaluate(candidate, reference, temperature=temperature)
    metrics["replay_rows"] = float(replay_rows)
    if verdict is None:
        return UpdateResult(
            head=candidate, metrics=metrics, guard=GUARD_OFF if not config.guard else GUARD_NO_REFERENCE
        )
    metrics.update(verdict.metrics, rehearsals=float(rehearsals))
    return UpdateResult(
        head=candidate, metrics=metrics, guard=GUARD_PASSED if verdict.passed else GUARD_FAILED, reasons=verdict.reasons
    )


def _step(
    head: MLPClassifier, new_x: np.ndarray, new_y: np.ndarray, rx: np.ndarray, ry: np.ndarray, repeats: int
) -> int:
    """One ``partial_fit`` on the new sample(s), ``repeats`` times over (at least once), and the replay rows; how many
    rows replayed."""
    repeats = max(1, repeats)
    x = np.concatenate([np.repeat(new_x, repeats, axis=0), *([rx] if len(ry) else [])])
    y = np.concatenate([np.repeat(new_y, repeats), ry])
    head.partial_fit(x, y, classes=CLASSES)
    return len(ry)


def _judged(
    candidate: MLPClassifier,
    parent: MLPClassifier,
    anchor: MLPClassifier | None,
    reference: ReferenceData,
    *,
    new: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    config: LearnerConfig,
) -> tuple[guard.Verdict, int, int]:
    """The guard's verdict on ``candidate``, rehearsing the source domain first when only its bound is broken.

    The line drifts towards the forgetting bound (consolidations refit on infant rows alone), and there every
    label that cost one FER2013 image was refused: 42 % of a learning curve's labels, nearly all correct. A
    rehearsal step replays source-domain rows with the label, so the label is kept while the loss is mended;
    only if ``config.rehearsals`` steps cannot mend it is the label held back. Returns the verdict, the rows
    replayed and the steps taken.
    """
    verdict = _verdict(candidate, parent, anchor, reference, config)
    source = np.flatnonzero(reference.replay_domain == guard.SOURCE_DOMAIN)
    rows = rehearsals = 0
    while verdict.forgetting_only and rehearsals < config.rehearsals and len(source) and config.replay_size > 0:
        picked = source[balanced_sample(reference.replay_y[source], config.replay_size, rng)]
        replay = reference.replay_x[picked], reference.replay_y[picked]
        rows += _step(candidate, *new, *replay, config.new_sample_repeats)
        rehearsals += 1
        verdict = _verdict(candidate, parent, anchor, reference, config)
    return verdict, rows, rehearsals


def _verdict(
    candidate: MLPClassifier,
    parent: MLPClassifier,
    anchor: MLPClassifier | None,
    reference: ReferenceData,
    config: LearnerConfig,
) -> guard.Verdict:
    """``candidate`` against ``anchor`` (and ``parent`` when that is not the anchor) on the guard's images."""
    pool = guard.pool_of(reference)
    answers, before = guard.predict(candidate, pool), guard.predict(parent, pool)
    if anchor is None or anchor is parent:
        return guard.judge(pool, answers, before, tolerance=config.tolerance, alpha=config.alpha)
    anchored = guard.predict(anchor, pool)
    return guard.judge(pool, answers, anchored, before, tolerance=config.tolerance, alpha=config.alpha)


def warm_up() -> None:
    """Pay MLflow's and skops' one-time import cost (7–9 s) now rather than on the first label."""
    import mlflow.sklearn

    head = MLPClassifier(hidden_layer_sizes=(2,), max_iter=1)
    head.partial_fit(np.zeros((NUM_CLASSES, 2), dtype=np.float32), CLASSES, classes=CLASSES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "head"
        mlflow.sklearn.save_model(
            head,
            str(path),
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=["numpy"],
        )
        load_head(path / "model.skops")  # how the registry reads heads: skops, trusted types only
