"""Online learning: every usable label refitted into a correction of the anchor's head, then judged by the guard.

An update does not step from the live head; it refits the anchor's output layer (``mlcore.correction``) on every
label the line holds plus the new ones, so the line's state is a function of its labels alone: the same for one
label at a time or a burst learned together, never drifting with the order they came in. The guard then judges
that state image by image against the anchor (the offline-trained version the line descends from), which is
where harm accumulates, and against the parent it would replace (``mlcore.guard``).

Labels held back earlier are not lost: an update first tries them again with the new ones; when the guard refuses
that, it tries the new ones without them, so one harmful label cannot hold back every later one. Without reference
data the guard cannot judge and says so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier

from mlcore import correction, guard
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import accuracy, expected_calibration_error, macro_f1, reliability_bins, reliability_metrics
from mlcore.online import CLASSES, SKOPS_TRUSTED_TYPES, head_probabilities, load_head
from mlcore.reference import ReferenceData

GUARD_PASSED = "passed"
GUARD_FAILED = "failed"
GUARD_OFF = "off"
GUARD_NO_REFERENCE = "skipped: no reference data for this extractor"
UNLEARN_GUARD = "not judged: a version that forgets deleted photos goes live regardless"

Rows = tuple[np.ndarray, np.ndarray]  # embeddings (n × d) and class indices (n)


@dataclass(frozen=True)
class LearnerConfig:
    strength: float = correction.STRENGTH  # labels' worth of the anchor's answers kept (``mlcore.correction``)
    ridge: float = correction.RIDGE  # the weights' own prior beside them
    tolerance: float = 0.02  # largest source-domain (FER2013) accuracy drop below the anchor
    alpha: float = guard.ALPHA  # level of the paired tests that hold back a significantly worse state
    guard: bool = True


@dataclass(frozen=True)
class UpdateResult:
    head: MLPClassifier
    metrics: dict[str, float]  # "<domain>_accuracy", "<domain>_macro_f1", "labels", "guard_<domain>_…"
    guard: str  # GUARD_PASSED, GUARD_FAILED, GUARD_OFF or GUARD_NO_REFERENCE
    reasons: tuple[str, ...] = field(default=())  # why the guard failed, one readable line per broken rule
    took_waiting: bool = False  # the labels held back earlier are part of this head

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


def update_head(
    anchor: MLPClassifier,
    *,
    new: Rows,
    learned: Rows | None = None,
    waiting: Rows | None = None,
    parent: MLPClassifier | None = None,
    reference: ReferenceData | None,
    temperature: float = 1.0,
    config: LearnerConfig = LearnerConfig(),
) -> UpdateResult:
    """``anchor`` corrected on ``learned`` + ``waiting`` + ``new`` and judged; without ``waiting`` if that is refused.

    ``parent`` is the live head the result would replace, when it is not the anchor itself. Neither head is changed.
    """
    attempts = [[learned, waiting, new], [learned, new]] if _count(waiting) else [[learned, new]]
    result = None
    for attempt, parts in enumerate(attempts):
        x, y = _stacked(parts)
        fitted = correction.corrected(
            anchor, x, y, strength=config.strength, keep=kept(reference), ridge=config.ridge, start=parent
        )
        metrics = evaluate(fitted.head, reference, temperature=temperature)
        metrics.update(labels=float(fitted.labels), correction_shift=fitted.shift)
        took_waiting = attempt == 0 and len(attempts) == 2
        if not config.guard or reference is None:
            status = GUARD_OFF if not config.guard else GUARD_NO_REFERENCE
            return UpdateResult(head=fitted.head, metrics=metrics, guard=status, took_waiting=took_waiting)
        verdict = judged(fitted.head, anchor=anchor, parent=parent, reference=reference, config=config)
        metrics.update(verdict.metrics)
        status = GUARD_PASSED if verdict.passed else GUARD_FAILED
        result = UpdateResult(
            head=fitted.head, metrics=metrics, guard=status, reasons=verdict.reasons, took_waiting=took_waiting
        )
        if verdict.passed:
            return result
    assert result is not None
    return result


def kept(reference: ReferenceData | None) -> np.ndarray | None:
    """The rows whose answers the anchor prior keeps: the replay pool that travels with the extractor (infant
    training photos and FER2013 rows); None without one (the prior then holds the anchor's weights instead)."""
    return None if reference is None or not len(reference.replay_y) else reference.replay_x


def judged(
    head: MLPClassifier,
    *,
    anchor: MLPClassifier,
    parent: MLPClassifier | None,
    reference: ReferenceData,
    config: LearnerConfig,
) -> guard.Verdict:
    """``head`` against the anchor (the harm the line accumulated) and the parent (this update's own harm), image by
    image on the guard's pool; both paired tests at ``config.alpha``."""
    pool = guard.pool_of(reference)
    answers, anchored = guard.predict(head, pool), guard.predict(anchor, pool)
    before = None if parent is None or parent is anchor else guard.predict(parent, pool)
    return guard.judge(
        pool, answers, anchored, before, tolerance=config.tolerance, alpha=config.alpha, anchor_alpha=config.alpha
    )


def _count(rows: Rows | None) -> int:
    return 0 if rows is None else len(rows[1])


def _stacked(parts: list[Rows | None]) -> Rows:
    present = [(np.atleast_2d(np.asarray(x, dtype=np.float32)), np.asarray(y, dtype=np.int64)) for x, y in _rows(parts)]
    if not present:
        return np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64)
    y = np.concatenate([part[1] for part in present])
    if len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise ValueError(f"labels must be class indices 0..{NUM_CLASSES - 1}")
    return np.concatenate([part[0] for part in present]), y


def _rows(parts: list[Rows | None]) -> list[Rows]:
    return [part for part in parts if part is not None and len(part[1])]


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
