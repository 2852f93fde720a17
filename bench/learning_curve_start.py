"""The learning curve's start model, trained once per recipe and split and kept in ``--work``, and the retrain point.

The start model trains on the start photos only (``TrainConfig.test_names`` = pool ∪ held-out, no final fit), so
neither the photos to label nor the held-out ones reach it. Its held-out embeddings are cached beside it: every
later score of a head on this extractor reads them instead of running the CNN again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.learning_curve_maths import Partition

if TYPE_CHECKING:
    from bench.crossval import Folds
    from mlcore.model import ExpressionModel
    from mlcore.reference import ReferenceData
    from mlcore.registry import Registry
    from mlcore.training import TrainConfig

QUICK_RECIPE: dict[str, Any] = {"fer_steps": 60, "fer_limit": 6000, "infant_epochs": 3}  # minutes, not a good model
MODEL_NAME = "learning-curve"


@dataclass(frozen=True)
class Start:
    """The trained start model, its reference data, and the held-out photos as its extractor embeds them."""

    version: str
    model: ExpressionModel
    reference: ReferenceData
    held_x: np.ndarray
    held_y: np.ndarray
    folder: Path  # where its registry lives


def start_config(base: TrainConfig, overrides: dict[str, Any], folds: Folds, split: Partition) -> TrainConfig:
    """``base`` with the recipe's overrides, holding out the pool and the held-out photos, registered as scored."""
    hidden = tuple(sorted(folds.names[i] for i in np.concatenate([split.pool, split.held])))
    return replace(base, **overrides, test_names=hidden, final_fit=False)


def registry_in(folder: Path) -> Registry:
    from mlcore.registry import Registry

    folder.mkdir(parents=True, exist_ok=True)
    return Registry(
        f"sqlite:///{folder / 'mlflow.db'}", artifact_root=(folder / "artifacts").as_uri(), model_name=MODEL_NAME
    )


def names_digest(names: list[str]) -> str:
    return hashlib.sha1(json.dumps(names).encode()).hexdigest()[:12]


def cache_key(config: TrainConfig) -> str:
    """Recipe and held-out photos: a start model is reused only when both are the same."""
    return hashlib.sha1(json.dumps([config.params(), config.test_names], sort_keys=True).encode()).hexdigest()[:12]


def trained_before(config: TrainConfig, work: Path) -> bool:
    """Whether ``work`` holds a start model of exactly ``config``."""
    return (work / f"start-{cache_key(config)}" / "start.json").exists()


def start_model(config: TrainConfig, folds: Folds, split: Partition, *, work: Path) -> Start:
    """The start model of ``config`` from ``work`` when trained before, else trained now (minutes) and kept."""
    from mlcore.training import train

    folder = work / f"start-{cache_key(config)}"
    marker = folder / "start.json"
    registry = registry_in(folder)
    if marker.exists():
        version = json.loads(marker.read_text())["version"]
    else:
        result = train(replace(config, work_dir=folder / "run"), registry)
        if sorted(result.heldout) != sorted(config.test_names or ()):
            raise RuntimeError("the start model held out other photos than the pool and the held-out set")
        version = result.version
        marker.write_text(json.dumps({"version": version, "recipe": config.params()}))
    model = registry.load(version)
    reference = registry.load_reference(model.extractor_id)
    if reference is None:
        raise RuntimeError(f"start version {version} has no reference data")
    assert config.image_dir is not None
    held = [folds.names[i] for i in split.held]
    held_paths = [Path(config.image_dir) / name for name in held]
    held_x = embedded(model, held_paths, folder / f"held-{names_digest(held)}.npy")
    return Start(version, model, reference, held_x, folds.labels[split.held], folder)


def embedded(model: ExpressionModel, paths: list[Path], cache: Path) -> np.ndarray:
    """The photos through the served path up to the head (face crop, extractor), cached in ``cache``."""
    from mlcore.imageio import open_image_file

    if cache.exists():
        return np.load(cache)
    faces = [model.crop(open_image_file(str(path))).image for path in paths]
    vectors = np.concatenate([model.embed(faces[i : i + 32]) for i in range(0, len(faces), 32)])
    np.save(cache, vectors)
    return vectors


def shared_fer_stage(config: TrainConfig, work: Path) -> Path | None:
    """Where the FER2013 stage of ``config``'s settings is kept in ``work`` (trained by the first start model and
    shared by every later training); None when ``--fer-checkpoint`` gives one or the recipe has no such stage."""
    from bench import crossval_store
    from bench.crossval import FER_STAGE_FIELDS

    if config.init_checkpoint is not None or config.fer_steps <= 0 or config.fer_csv is None:
        return None
    return crossval_store.fer_stage(work, tuple(getattr(config, name) for name in FER_STAGE_FIELDS))


def keep_fer_stage(config: TrainConfig, start: Start, work: Path) -> Path | None:
    """The start model's own FER2013 stage, kept where ``shared_fer_stage`` finds it; None if it left none."""
    from bench import crossval_store
    from bench.crossval import FER_STAGE_FIELDS
    from mlcore.training import AFTER_FER

    trained = start.folder / "run" / AFTER_FER
    if not trained.exists():
        return None
    return crossval_store.keep_fer_stage(work, tuple(getattr(config, name) for name in FER_STAGE_FIELDS), trained)


def retrain_point(config: TrainConfig, folds: Folds, split: Partition, *, work: Path) -> dict[str, Any]:
    """A full training on the start photos plus every pool label (true labels), scored on the same held-out set."""
    from mlcore.comparison import correct
    from mlcore.metrics import macro_f1
    from mlcore.training import train

    held = tuple(sorted(folds.names[i] for i in split.held))
    retrain = replace(config, test_names=held)
    folder = work / f"retrain-{cache_key(retrain)}"
    registry = registry_in(folder)
    marker = folder / "retrain.json"
    if marker.exists():
        version = json.loads(marker.read_text())["version"]
    else:
        version = train(replace(retrain, work_dir=folder / "run"), registry).version
        marker.write_text(json.dumps({"version": version}))
    model = registry.load(version)
    assert config.image_dir is not None
    held_x = embedded(model, [Path(config.image_dir) / folds.names[i] for i in split.held], folder / "held.npy")
    held_y = folds.labels[split.held]
    probabilities = model.probabilities(held_x)
    return {
        "labels": len(split.pool),
        "version": version,
        "accuracy": round(float(correct(probabilities, held_y).mean()), 4),
        "macro_f1": round(macro_f1(held_y, probabilities.argmax(axis=1)), 4),
        "fer_accuracy": registry.version_info(version).metrics.get("fer_accuracy"),
        "correct": correct(probabilities, held_y),
    }
