"""Full trainings, the first model and evaluations: mlcore's engines run on this deployment's data."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from mlcore import retrain_guard, training
from mlcore.bootstrap import FACE_DETECTOR as BOOTSTRAP_FACE_DETECTOR
from mlcore.bootstrap import STEPS as BOOTSTRAP_STEPS
from mlcore.bootstrap import bootstrap as bootstrap_engine
from mlcore.evaluation import evaluate_path, evaluation_json
from mlcore.extractor import ExtractorConfig
from mlcore.model import ExpressionModel
from mlcore.progress import no_progress
from mlcore.registry import Registry
from predictions.ml import GuardVerdict, Progress, Trained, TrainingCancelled, TrainingRun

CONFIG_FIELDS = frozenset(field.name for field in fields(training.TrainConfig))
RECIPE = training.TrainConfig()  # the default recipe: what ``manage.py train`` offers as its defaults


def train(run: TrainingRun, registry: Registry) -> tuple[str, dict[str, float]]:
    """Run every stage (or resume them) and register the result; the caller decides whether it goes live."""
    try:
        result = training.train(
            config(run),
            registry,
            progress=run.progress or no_progress,
            should_stop=run.should_stop or (lambda: False),
        )
    except training.TrainingCancelled as error:
        raise TrainingCancelled(str(error)) from None
    return result.version, result.metrics


def config(run: TrainingRun) -> training.TrainConfig:
    """The engine's configuration: the run's paths, its "tiny" preset if asked, and its overrides."""
    unknown = set(run.options) - CONFIG_FIELDS - {"preset"}
    if unknown:
        raise ValueError(f"unknown training options: {', '.join(sorted(unknown))}")
    common: dict[str, Any] = {
        "fer_csv": run.fer_csv,
        "image_dir": run.image_dir,
        "work_dir": run.work_dir,
        "cache_dir": run.cache_dir,
        "tags": run.tags,
        **{key: value for key, value in run.options.items() if key != "preset"},
    }
    if run.options.get("preset") == "tiny":
        return training.TrainConfig.tiny(**common)
    return training.TrainConfig(**common)


def has_checkpoint(work_dir: Path) -> bool:
    """Whether an interrupted training left a checkpoint in ``work_dir`` to resume from."""
    return (work_dir / training.CHECKPOINT).is_file()


def latest_run(root: Path) -> Path | None:
    """The most recently checkpointed run folder under ``root``."""
    return training.latest_work_dir(root)


def bootstrap(
    registry: Registry, *, fer_csv: Path | None, image_dir: Path | None, options: dict[str, Any], progress: Progress
) -> Trained:
    """The starter model in under a minute (``mlcore.bootstrap``), on its own face detector unless ``options`` name
    one; registered, not made live."""
    result = bootstrap_engine(
        registry,
        fer_csv=fer_csv,
        image_dir=image_dir,
        fer_limit=options["fer_limit"],
        config=ExtractorConfig(
            image_size=options["image_size"], face_detector=options.get("face_detector") or BOOTSTRAP_FACE_DETECTOR
        ),
        imagenet=options["imagenet"],
        seed=options["seed"],
        cache_dir=options.get("cache_dir"),
        steps=options.get("steps") or BOOTSTRAP_STEPS,
        progress=progress,
    )
    return Trained(version=result.version, metrics=result.metrics, seconds=result.seconds)


def evaluate(model: ExpressionModel, data: Path, *, limit: int | None, progress: Progress) -> dict[str, Any]:
    """Accuracy, macro-F1, calibration and per-class recall of ``model`` on a folder or a FER2013 CSV."""
    evaluation = evaluate_path(model, Path(data), limit=limit, progress=progress)
    return evaluation_json(evaluation, model.version)


def verdict(new: dict[str, float], old: dict[str, float], *, tolerance: float) -> GuardVerdict:
    """The retrain guard (``mlcore.retrain_guard``): not significantly worse on infants, FER2013 within tolerance."""
    passed, reason = retrain_guard.judge(new, old, tolerance=tolerance)
    return GuardVerdict(passed, reason)
