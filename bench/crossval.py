"""Grouped, stratified K-fold cross-validation of training recipes on the infant photos (``accuracy.py --cv``).

Folds deal whole near-duplicate groups (``mlcore.split.grouped_folds``, seeded), so no photo has a copy on the
training side of its own fold. Each fold runs the full recipe with that fold's photos as its held-out test photos
(``TrainConfig.test_names``) and the rest split into train and validation; the FER2013 stage never sees an infant
photo, so it runs once per distinct FER-stage setting and the other folds start from its ``after_fer.pt``. Each
fold's test photos then go through the registered recipe version's served path (face detector, extractor, head,
temperature); pooled over the folds every photo is scored once, by the one model that did not train on it.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench import crossval_store as store
from mlcore.comparison import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, Estimate, accuracy_interval, correct, paired_difference
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import Evaluation, evaluate_probabilities, macro_f1
from mlcore.valence import valence_correct

if TYPE_CHECKING:
    from mlcore.registry import Registry
    from mlcore.training import TrainConfig

# TrainConfig fields the FER2013 stage's weights depend on: recipes (and folds) equal on all of them share the stage.
FER_STAGE_FIELDS = (
    "fer_csv",
    "fer_limit",
    "fer_steps",
    "fer_batch",
    "fer_lr",
    "fer_val_size",
    "seed",
    "arch",
    "imagenet",
    "image_size",
)
# Fields cross-validation sets itself; a recipe that overrides them would no longer be scored on its folds.
OWNED_FIELDS = {"image_dir", "work_dir", "test_names", "unlabeled", "init_checkpoint", "resume", "final_fit", "tags"}


@dataclass(frozen=True)
class Folds:
    """The infant photos (``label/file``), their labels, and each fold's test photos as indices into them."""

    names: list[str]
    labels: np.ndarray
    test: list[np.ndarray]


@dataclass(frozen=True)
class FoldResult:
    """One fold of one recipe: its test photos' calibrated probabilities and what the fold cost."""

    indices: np.ndarray  # into Folds.names
    probabilities: np.ndarray
    seconds: float  # wall time of this fold's training and scoring
    train_seconds: float  # as the training recorded it: a shared FER stage counts its measured seconds again
    shared_fer: bool
    training_test_accuracy: float  # the training's own test_infant_accuracy, on cached crops: should agree
    stored: bool = False  # read back from a kept folder (``bench/crossval_store.py``), not trained in this run


def photo_folds(infant_dir: Path, *, k: int, seed: int) -> Folds:
    """Grouped, stratified folds of the photos under ``infant_dir``, grouped as ``load_infant`` groups them."""
    from mlcore.datasets import folder_items
    from mlcore.imageio import open_image_file
    from mlcore.split import dhash, duplicate_groups, grouped_folds

    items = folder_items(infant_dir)
    groups = duplicate_groups([dhash(open_image_file(str(item.path))) for item in items])
    labels = np.array([item.label for item in items], dtype=np.int64)
    names = [item.path.relative_to(infant_dir).as_posix() for item in items]
    return Folds(names=names, labels=labels, test=grouped_folds(labels, groups, k, seed))


def recipe(text: str) -> dict[str, Any]:
    """A recipe from the command line: a JSON object of TrainConfig fields to override."""
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"a recipe is a JSON object of TrainConfig fields: {error}") from None
    if not isinstance(overrides, dict):
        raise ValueError(f"a recipe is a JSON object of TrainConfig fields, not {text}")
    return overrides


def recipe_config(base: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """``base`` with a recipe's overrides; unknown fields and those cross-validation owns are refused."""
    known = {f.name for f in fields(base)}
    refused = sorted((set(overrides) - known) | (set(overrides) & OWNED_FIELDS))
    if refused:
        raise SystemExit(f"a recipe cannot set {', '.join(refused)}")
    return replace(base, **overrides, final_fit=False)


def cross_validate(
    base: TrainConfig,
    recipes: list[dict[str, Any]],
    *,
    k: int,
    seed: int,
    work: Path | None = None,
    fresh: bool = False,
    unlabeled_fold: bool = False,
) -> dict[str, Any]:
    """Every recipe trained and scored on the same folds; with two, the paired difference B − A.

    A kept ``work`` folder reuses its FER2013 stages and, unless ``fresh``, its recipes' stored fold results.
    With ``unlabeled_fold`` the next fold's photos lose their labels: unlabeled uploads (``TrainConfig.unlabeled``).
    """
    import torch

    from mlcore.registry import Registry

    torch.set_num_threads(2)
    started = time.monotonic()
    assert base.image_dir is not None
    folds = photo_folds(Path(base.image_dir), k=k, seed=seed)
    if not 1 <= len(recipes) <= 2:
        raise ValueError(f"cross-validation compares one or two recipes, not {len(recipes)}")
    configs = [recipe_config(base, overrides) for overrides in recipes]
    # A throw-away registry and work folders, unless a folder is given to keep them in.
    folder: contextlib.AbstractContextManager[str] = (
        contextlib.nullcontext(str(work)) if work is not None else tempfile.TemporaryDirectory(prefix="crossval-")
    )
    with folder as scratch:
        root = Path(scratch).resolve()  # a relative --work cannot be an artifact URI
        root.mkdir(parents=True, exist_ok=True)
        registry = Registry(
            f"sqlite:///{root / 'mlflow.db'}", artifact_root=(root / "artifacts").as_uri(), model_name="crossval"
        )
        results = []
        for r, config in zip("AB", configs, strict=False):
            stored = store.results_path(root, config, k=k, seed=seed, names=folds.names, unlabeled_fold=unlabeled_fold)
            found = None if fresh else store.load_results(stored)
            if found is None:
                found = run_folds(
                    config, folds, registry=registry, work=root / f"recipe_{r}", unlabeled_fold=unlabeled_fold
                )
                store.save_results(stored, found)
            results.append(found)
    sizes = [len(test) for test in folds.test]
    report: dict[str, Any] = {
        **{"k": k, "fold_seed": seed, "n": len(folds.names), "fold_sizes": sizes, "unlabeled_fold": unlabeled_fold},
        "recipes": {
            r: {"overrides": overrides, **recipe_report(folds, found)}
            for r, overrides, found in zip("AB", recipes, results, strict=False)
        },
        **{"bootstrap_draws": BOOTSTRAP_DRAWS, "bootstrap_seed": BOOTSTRAP_SEED},
    }
    if len(results) == 2:
        report["paired"] = paired_report(folds, *results)
    report["bench_seconds"] = round(time.monotonic() - started, 1)
    return report


def run_folds(
    config: TrainConfig, folds: Folds, *, registry: Registry, work: Path, unlabeled_fold: bool = False
) -> list[FoldResult]:
    """Train and score one recipe on every fold, starting from the kept FER2013 stage of equal settings."""
    from mlcore.datasets import LabeledImages
    from mlcore.evaluation import model_probabilities
    from mlcore.imageio import open_image_file
    from mlcore.training import AFTER_FER, train

    assert config.image_dir is not None
    key = tuple(getattr(config, name) for name in FER_STAGE_FIELDS)
    kept = store.fer_stage(work.parent, key)
    found = []
    for fold, indices in enumerate(folds.test, 1):
        names = [folds.names[i] for i in indices]
        uploads = folds.test[fold % len(folds.test)] if unlabeled_fold else []
        shared = kept if kept.exists() else None
        fold_config = replace(
            config,
            work_dir=work / f"fold_{fold}",
            test_names=tuple(names),
            unlabeled=tuple(str(Path(config.image_dir) / folds.names[i]) for i in uploads),
            init_checkpoint=shared,
            tags={"cv_fold": str(fold)},
        )
        started = time.monotonic()
        result = train(fold_config, registry)
        if sorted(result.heldout) != sorted(names):
            raise RuntimeError(f"fold {fold} trained with other held-out photos than it was given")
        if shared is None and config.fer_steps > 0:
            store.keep_fer_stage(work.parent, key, fold_config.work_dir / AFTER_FER)
        model = registry.load(result.version)
        images = [open_image_file(str(Path(config.image_dir) / name)) for name in names]
        probabilities = model_probabilities(model, LabeledImages(images, folds.labels[indices], names, False))
        found.append(
            FoldResult(
                indices=indices,
                probabilities=probabilities,
                seconds=time.monotonic() - started,
                train_seconds=result.seconds,
                shared_fer=shared is not None,
                training_test_accuracy=result.metrics["test_infant_accuracy"],
            )
        )
    return found


def scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall (null for a label without a photo), ECE and valence accuracy."""
    evaluation: Evaluation = evaluate_probabilities(probabilities, labels)
    return {
        "n": evaluation.n,
        "accuracy": evaluation.accuracy,
        "macro_f1": evaluation.macro_f1,
        "per_class": {k: None if np.isnan(v) else v for k, v in evaluation.per_class.items()},
        "ece": evaluation.ece,
        "valence_accuracy": float(valence_correct(probabilities, labels).mean()),
    }


def recipe_report(folds: Folds, found: list[FoldResult]) -> dict[str, Any]:
    """Each fold's scores and seconds, and the scores pooled over all photos with their 95 % intervals."""
    per_fold = [
        {
            "fold": fold,
            **scores(f.probabilities, folds.labels[f.indices]),
            "training_test_accuracy": f.training_test_accuracy,
            "seconds": round(f.seconds, 1),
            "train_seconds": round(f.train_seconds, 1),
            "shared_fer_stage": f.shared_fer,
            "stored": f.stored,
        }
        for fold, f in enumerate(found, 1)
    ]
    probabilities, labels = pooled(folds, found)
    overall = scores(probabilities, labels)
    interval = accuracy_interval(correct(probabilities, labels))
    valence = accuracy_interval(valence_correct(probabilities, labels))
    overall.update(
        accuracy_ci95=[interval.low, interval.high],
        valence_accuracy_ci95=[valence.low, valence.high],
        fold_accuracies=[fold["accuracy"] for fold in per_fold],
        confusion=evaluate_probabilities(probabilities, labels).confusion,
        seconds=round(sum(f.seconds for f in found), 1),
    )
    return {"folds": per_fold, "overall": overall}


def pooled(folds: Folds, found: list[FoldResult]) -> tuple[np.ndarray, np.ndarray]:
    """Every photo's probabilities from the fold that held it out, in photo order, and the true labels."""
    probabilities = np.zeros((len(folds.names), NUM_CLASSES))
    for f in found:
        probabilities[f.indices] = f.probabilities
    return probabilities, folds.labels


def paired_report(folds: Folds, a: list[FoldResult], b: list[FoldResult]) -> dict[str, Any]:
    """Pooled accuracy and macro-F1 of B minus A on the same photos, with 95 % paired-bootstrap intervals."""
    (pa, labels), (pb, _) = pooled(folds, a), pooled(folds, b)
    accuracy = paired_difference(correct(pa, labels), correct(pb, labels))
    f1 = paired_macro_f1_difference(pa.argmax(axis=1), pb.argmax(axis=1), labels)
    return {
        "n": len(labels),
        "accuracy_difference": accuracy.value,
        "accuracy_difference_ci95": [accuracy.low, accuracy.high],
        "macro_f1_difference": f1.value,
        "macro_f1_difference_ci95": [f1.low, f1.high],
    }


def paired_macro_f1_difference(
    baseline: np.ndarray, candidate: np.ndarray, y_true: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS
) -> Estimate:
    """Macro-F1 of ``candidate`` minus ``baseline`` predictions, resampling photos as ``paired_difference`` does."""
    y_true = np.asarray(y_true, dtype=np.int64)
    picks = np.random.default_rng(BOOTSTRAP_SEED).integers(0, len(y_true), size=(draws, len(y_true)))
    resampled = _macro_f1s(y_true[picks], candidate[picks]) - _macro_f1s(y_true[picks], baseline[picks])
    low, high = np.quantile(resampled, [0.025, 0.975])
    value = macro_f1(y_true, candidate) - macro_f1(y_true, baseline)
    return Estimate(value=value, low=float(low), high=float(high))


def _macro_f1s(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Macro-F1 of each row (one bootstrap draw), as ``mlcore.metrics.macro_f1``: an absent label scores 0."""
    draws = len(y_true)
    cells = (np.arange(draws)[:, None] * NUM_CLASSES + y_true) * NUM_CLASSES + y_pred
    matrix = np.bincount(cells.ravel(), minlength=draws * NUM_CLASSES**2).reshape(draws, NUM_CLASSES, NUM_CLASSES)
    hits = np.diagonal(matrix, axis1=1, axis2=2)
    # 2·TP / (2·TP + FP + FN) = 2·TP / (true count + predicted count).
    denominator = matrix.sum(axis=2) + matrix.sum(axis=1)
    return np.where(denominator > 0, 2 * hits / np.maximum(denominator, 1), 0.0).mean(axis=1)
