"""Full training: FER2013 source stage → infant fine-tune → target-domain BN statistics → head → calibration.

Every stage checkpoints into ``config.work_dir`` so an interrupted run resumes where it stopped; the result is
registered in MLflow as a new version whose run also holds the per-epoch metrics. Training never moves the live
alias: whoever called it decides whether the new version goes live.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore import runtime
from mlcore.extractor import Extractor, ExtractorConfig, build_extractor
from mlcore.labels import NUM_CLASSES
from mlcore.progress import OverallProgress, ProgressCallback, no_progress
from mlcore.registry import Registry
from mlcore.training.checkpoints import Clock, latest_work_dir, load_checkpoint
from mlcore.training.config import AFTER_FER, CHECKPOINT, RUN_FILE, TrainConfig, TrainingCancelled, TrainResult
from mlcore.training.data import fer_split, load_fer, load_infant
from mlcore.training.embedding import adapt_batch_norm, embed_all
from mlcore.training.registration import fit_and_register
from mlcore.training.run import TrainRun, run_id_for
from mlcore.training.stages import fer_stage, infant_stage

__all__ = [
    "AFTER_FER",
    "CHECKPOINT",
    "RUN_FILE",
    "TrainConfig",
    "TrainResult",
    "TrainRun",
    "TrainingCancelled",
    "adapt_batch_norm",
    "fer_split",
    "latest_work_dir",
    "train",
]


def train(
    config: TrainConfig,
    registry: Registry,
    *,
    progress: ProgressCallback = no_progress,
    should_stop: Callable[[], bool] = lambda: False,
) -> TrainResult:
    """Run (or resume) every stage and register the result as a new version, which is not made live."""
    if config.image_dir is None:
        raise ValueError("training needs labeled infant images (image_dir)")
    work = Path(config.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    if config.threads is not None:
        runtime.for_this_thread(config.threads)  # a server's request threads keep theirs
    checkpoint = load_checkpoint(work / CHECKPOINT) if config.resume else None
    run_id = run_id_for(config, registry, work, resuming=checkpoint is not None)
    clock = Clock(checkpoint["seconds"] if checkpoint else None)
    torch.manual_seed(config.seed)
    progress = OverallProgress(progress, _stage_shares(config))

    clock.begin("data")
    infant = load_infant(config, progress)
    fer = load_fer(config) if config.fer_csv is not None else None
    clock.end()

    extractor, classifier, checkpoint = _networks(config, checkpoint, clock)
    run = TrainRun(
        config=config,
        registry=registry,
        run_id=run_id,
        work_dir=work,
        infant=infant,
        fer=fer,
        extractor=extractor,
        classifier=classifier,
        clock=clock,
        progress=progress,
        should_stop=should_stop,
    )
    # Channels-last while training: ~1.35x faster steps on 2 cores (bench/train_step.py); served weights go back.
    extractor.to(memory_format=torch.channels_last)
    _run_stages(run, checkpoint)
    extractor.to(memory_format=torch.contiguous_format)
    clock.begin("adapt_embed")
    extractor.eval()
    embeddings = embed_all(run)
    clock.begin("head")
    return fit_and_register(run, embeddings)


def _stage_shares(config: TrainConfig) -> dict[str, float]:
    """Each stage's rough share of a full run's time on 2 cores, for the progress a banner shows."""
    fer = 0.55 if config.fer_csv is not None and config.fer_steps > 0 else 0.0
    infant = 0.3 if config.infant_epochs > 0 else 0.0
    return {"faces": 0.05, "fer": fer, "adapt": 0.03, "infant": infant, "embed": 0.04, "head": 0.03}


def _networks(
    config: TrainConfig, checkpoint: dict[str, Any] | None, clock: Clock
) -> tuple[Extractor, nn.Module, dict[str, Any] | None]:
    """The extractor and its training classifier, from the checkpoint resumed (or shared) when there is one."""
    extractor_config = ExtractorConfig(
        arch=config.arch,
        image_size=config.image_size,
        face_detector=config.face_detector,
        face_margin=config.face_margin,
        tta_flip=config.tta_flip,
        tta_zoom=config.tta_zoom,
    )
    extractor = build_extractor(extractor_config, imagenet=config.imagenet and checkpoint is None)
    classifier = nn.Linear(extractor_config.embedding_dim, NUM_CLASSES)
    if checkpoint is None and config.init_checkpoint is not None:
        shared = load_checkpoint(Path(config.init_checkpoint))
        if shared is None or (shared["stage"], shared["step"]) != ("infant", 0):
            raise ValueError(f"{config.init_checkpoint} is not a checkpoint taken right after the FER stage")
        checkpoint = {**shared, "stage": "infant", "step": 0, "optimizer": None}
        clock.seconds["fer"] = shared["seconds"].get("fer", 0.0)
    if checkpoint is not None:
        extractor.load_state_dict(checkpoint["extractor"])
        classifier.load_state_dict(checkpoint["classifier"])
    return extractor, classifier, checkpoint


def _run_stages(run: TrainRun, checkpoint: dict[str, Any] | None) -> None:
    """The FER2013 stage, batch-norm adaptation and the infant stage, each from where the checkpoint left off."""
    stage, step = ("fer", 0) if checkpoint is None else (checkpoint["stage"], int(checkpoint["step"]))
    if checkpoint is not None and stage == "infant":
        run.average.update(checkpoint.get("average") or {})
    optimizer_state = checkpoint.get("optimizer") if checkpoint is not None else None
    if stage == "fer":
        run.clock.begin("fer")
        fer_stage(run, start=step, optimizer_state=optimizer_state)
        stage, step, optimizer_state = "infant", 0, None
        run.clock.end()
        run.save("infant", 0, None)
        # Kept apart from the rolling checkpoint: ablations start their infant stage from it.
        shutil.copyfile(run.work_dir / CHECKPOINT, run.work_dir / AFTER_FER)
    if stage == "infant" and step == 0 and run.config.adapt_bn:
        # Entering the target domain: normalise with infant statistics before fine-tuning from them. Measured:
        # re-estimating them after the fine-tune instead cost ~7 points of validation accuracy.
        run.clock.begin("adapt_embed")
        adapt_batch_norm(run.extractor, run.infant.tensors[run.infant.split.train], run.progress)
        run.clock.end()
    if stage == "infant":
        run.clock.begin("infant")
        infant_stage(run, start=step, optimizer_state=optimizer_state)
        run.clock.end()
        run.save("done", 0, None)
