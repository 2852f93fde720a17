"""Full training: FER2013 source stage → infant fine-tune → target-domain BN statistics → head → calibration.

Every stage checkpoints into ``config.work_dir`` so an interrupted run resumes where it stopped;
the result is registered in MLflow as a new version whose run also holds the per-epoch metrics."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlcore.calibration import calibrate, scale
from mlcore.extractor import Extractor, ExtractorConfig, build_extractor
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import evaluate_probabilities
from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.progress import ProgressCallback, ProgressEvent, no_progress
from mlcore.reference import ReferenceData
from mlcore.registry import Registry
from mlcore.training.config import AFTER_FER, CHECKPOINT, RUN_FILE, TrainConfig, TrainingCancelled, TrainResult
from mlcore.training.data import _load_fer, _load_infant, fer_split
from mlcore.training.stages import _adapt_batch_norm, _Clock, _embed_all, _fer_stage, _infant_stage

__all__ = [
    "AFTER_FER",
    "CHECKPOINT",
    "RUN_FILE",
    "TrainConfig",
    "TrainResult",
    "TrainingCancelled",
    "_adapt_batch_norm",
    "fer_split",
    "latest_work_dir",
    "train",
]

logger = logging.getLogger(__name__)


def train(
    config: TrainConfig,
    registry: Registry,
    *,
    progress: ProgressCallback = no_progress,
    should_stop: Callable[[], bool] = lambda: False,
) -> TrainResult:
    """Run (or resume) every stage, register the result as a new version and, if asked, make it live."""
    if config.image_dir is None:
        raise ValueError("training needs labeled infant images (image_dir)")
    work = Path(config.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = _load_checkpoint(work / CHECKPOINT) if config.resume else None
    run_id = _run_id(config, registry, work, checkpoint)
    clock = _Clock(checkpoint["seconds"] if checkpoint else None)
    torch.manual_seed(config.seed)

    clock.begin("data")
    infant = _load_infant(config, progress)
    fer = _load_fer(config) if config.fer_csv is not None else None
    clock.end()

    extractor_config = ExtractorConfig(
        arch=config.arch,
        image_size=config.image_size,
        face_detector=config.face_detector,
        face_margin=config.face_margin,
    )
    extractor = build_extractor(extractor_config, imagenet=config.imagenet and checkpoint is None)
    classifier = nn.Linear(extractor_config.embedding_dim, NUM_CLASSES)
    if checkpoint is None and config.init_checkpoint is not None:
        shared = _load_checkpoint(Path(config.init_checkpoint))
        if shared is None or (shared["stage"], shared["step"]) != ("infant", 0):
            raise ValueError(f"{config.init_checkpoint} is not a checkpoint taken right after the FER stage")
        checkpoint = {**shared, "stage": "infant", "step": 0, "optimizer": None}
        clock.seconds["fer"] = shared["seconds"].get("fer", 0.0)
    if checkpoint is not None:
        extractor.load_state_dict(checkpoint["extractor"])
        classifier.load_state_dict(checkpoint["classifier"])
    stage, step = ("fer", 0) if checkpoint is None else (checkpoint["stage"], int(checkpoint["step"]))

    def save(stage: str, step: int, optimiser: torch.optim.Optimizer | None) -> None:
        _save_checkpoint(
            work / CHECKPOINT,
            stage=stage,
            step=step,
            extractor=extractor,
            classifier=classifier,
            optimiser=optimiser,
            seconds=clock.snapshot(),
        )

    if stage == "fer":
        clock.begin("fer")
        _fer_stage(config, fer, extractor, classifier, step, checkpoint, registry, run_id, progress, should_stop, save)
        stage, step, checkpoint = "infant", 0, None
        clock.end()
        save("infant", 0, None)
        # Kept apart from the rolling checkpoint: ablations start their infant stage from it.
        shutil.copyfile(work / CHECKPOINT, work / AFTER_FER)
    if stage == "infant" and step == 0 and config.adapt_bn:
        # Entering the target domain: normalise with infant statistics before fine-tuning from them. Measured:
        # re-estimating them after the fine-tune instead cost ~7 points of validation accuracy.
        clock.begin("adapt_embed")
        _adapt_batch_norm(extractor, infant.tensors[infant.split.train], progress)
        clock.end()
    if stage == "infant":
        clock.begin("infant")
        _infant_stage(
            config, infant, fer, extractor, classifier, step, checkpoint, registry, run_id, progress, should_stop, save
        )
        clock.end()
        save("done", 0, None)

    clock.begin("adapt_embed")
    extractor.eval()
    embeddings = _embed_all(extractor, infant, fer, config, progress)
    clock.begin("head")
    return _fit_and_register(config, registry, run_id, extractor, infant, fer, embeddings, clock, progress)


# ---- data -----------------------------------------------------------------------------------------


def _fit_and_register(
    config,
    registry,
    run_id,
    extractor,
    infant,
    fer,
    embeddings,
    clock,  # type: ignore[no-untyped-def]
    progress,
) -> TrainResult:
    """Fit the head on infant embeddings, calibrate on validation, evaluate, register."""
    split = infant.split
    x, y = embeddings["infant"], infant.labels
    progress(ProgressEvent(stage="head", step=0, total=1))
    head = fit_head(
        new_head(seed=config.seed), x[split.train], y[split.train], epochs=config.head_epochs, seed=config.seed
    )
    calibration = calibrate(head_probabilities(head, x[split.val]), y[split.val], coverage=config.coverage)
    progress(ProgressEvent(stage="head", step=1, total=1))

    def evaluation(features: np.ndarray, labels: np.ndarray):  # type: ignore[no-untyped-def]
        return evaluate_probabilities(scale(head_probabilities(head, features), calibration.temperature), labels)

    evaluations = {
        "infant": evaluation(x[split.val], y[split.val]),
        "test_infant": evaluation(x[split.test], y[split.test]),
    }
    if fer is not None:
        evaluations["fer"] = evaluation(embeddings["fer_val"], fer.labels[fer.val])
    clock.end()
    metrics: dict[str, float] = {}
    for name, result in evaluations.items():
        metrics.update(result.as_metrics(name))
    metrics.update(
        {
            "temperature": calibration.temperature,
            "abstain_threshold": calibration.abstain_threshold,
            "val_coverage": calibration.coverage,
            "val_accuracy_answered": calibration.accuracy_answered,
            "infant_face_found": infant.found / len(y),
            "train_seconds": sum(clock.seconds.values()),
        }
    )
    metrics.update({f"seconds_{k}": v for k, v in clock.seconds.items()})

    val_domains = {"infant": (x[split.val], y[split.val])}
    replay_x, replay_y, replay_domain = [x[split.train]], [y[split.train]], [np.full(len(split.train), "infant")]
    if fer is not None:
        val_domains["fer"] = (embeddings["fer_val"], fer.labels[fer.val])
        replay_x.append(embeddings["fer_replay"])
        replay_y.append(fer.labels[embeddings["fer_replay_idx"]])
        replay_domain.append(np.full(len(embeddings["fer_replay_idx"]), "fer"))
    reference = ReferenceData(
        val_x={d: v[0] for d, v in val_domains.items()},
        val_y={d: v[1] for d, v in val_domains.items()},
        replay_x=np.concatenate(replay_x),
        replay_y=np.concatenate(replay_y),
        replay_domain=np.concatenate(replay_domain),
    )
    heldout = [infant.names[i] for i in split.test]
    registry.client.log_dict(
        run_id,
        {
            "image_dir": str(config.image_dir),
            "train": [infant.names[i] for i in split.train],
            "val": [infant.names[i] for i in split.val],
            "test": heldout,
        },
        "split.json",
    )
    registry.client.log_dict(run_id, {name: e.confusion for name, e in evaluations.items()}, "confusion.json")
    extractor_id = registry.log_extractor(
        extractor, params={"origin": "train", "train_run_id": run_id}, reference=reference
    )
    parent = registry.live_version()
    version = registry.register(
        head=head,
        extractor_id=extractor_id,
        kind="retrain",
        parent=parent,
        temperature=calibration.temperature,
        abstain_threshold=calibration.abstain_threshold,
        metrics=metrics,
        run_id=run_id,
        tags={"train_run_id": run_id, "heldout_split": "split.json", **config.tags},
    )
    if config.promote:
        registry.set_live(version, by="train")
    logger.info("trained version %s in %.0f s: %s", version, metrics["train_seconds"], json.dumps(metrics))
    return TrainResult(
        version=version,
        run_id=run_id,
        extractor_id=extractor_id,
        metrics=metrics,
        calibration=calibration,
        seconds=metrics["train_seconds"],
        stage_seconds=dict(clock.seconds),
        heldout=heldout,
    )


# ---- checkpoints ----------------------------------------------------------------------------------


def _run_id(config: TrainConfig, registry: Registry, work: Path, checkpoint: dict | None) -> str:
    """The MLflow run this training logs into: the interrupted one when resuming, else a new one."""
    run_file = work / RUN_FILE
    if checkpoint is not None and run_file.exists():
        return json.loads(run_file.read_text())["run_id"]
    run = registry.client.create_run(registry.experiment_id(), run_name="train", tags={"kind": "retrain"})
    for key, value in config.params().items():
        registry.client.log_param(run.info.run_id, key, value)
    run_file.write_text(json.dumps({"run_id": run.info.run_id, "config": config.params()}))
    return run.info.run_id


def _save_checkpoint(
    path: Path,
    *,
    stage: str,
    step: int,
    extractor: Extractor,
    classifier: nn.Module,
    optimiser: torch.optim.Optimizer | None,
    seconds: dict[str, float],
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "stage": stage,
            "step": step,
            "extractor": extractor.state_dict(),
            "classifier": classifier.state_dict(),
            "optimizer": optimiser.state_dict() if optimiser else None,
            "seconds": dict(seconds),
        },
        tmp,
    )
    tmp.replace(path)  # atomic: an interruption mid-write leaves the previous checkpoint intact


def _load_checkpoint(path: Path) -> dict | None:
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def latest_work_dir(root: Path) -> Path | None:
    """The most recently checkpointed run folder under ``root``, for ``--resume`` without a name."""
    found = sorted(root.glob(f"*/{CHECKPOINT}"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None
