"""One training run as every stage sees it: what was asked, where it logs and keeps its files, data and networks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.extractor import Extractor
from mlcore.progress import ProgressCallback
from mlcore.registry import Registry
from mlcore.training.checkpoints import Clock, save_checkpoint
from mlcore.training.config import CHECKPOINT, RUN_FILE, TrainConfig
from mlcore.training.data import FerData, InfantData
from mlcore.versions import KIND_TAG, Kind


@dataclass(frozen=True)
class TrainRun:
    """What every stage of one run shares; built once the data is loaded and the networks exist."""

    config: TrainConfig
    registry: Registry
    run_id: str  # the MLflow run the metrics go to and the version is registered from
    work_dir: Path  # checkpoints and ``run.json``
    infant: InfantData
    fer: FerData | None
    extractor: Extractor
    classifier: nn.Module  # trained with the extractor, thrown away after; the registered head is fitted apart
    clock: Clock
    progress: ProgressCallback
    should_stop: Callable[[], bool]
    average: dict[str, Any] = field(default_factory=dict)  # the running sum of averaged weights (``averaging``)

    def save(self, stage: str, step: int, optimiser: torch.optim.Optimizer | None) -> None:
        """Checkpoint the networks (and the optimiser) so that a resumed run starts from ``stage`` at ``step``."""
        save_checkpoint(
            self.work_dir / CHECKPOINT,
            stage=stage,
            step=step,
            extractor=self.extractor,
            classifier=self.classifier,
            optimiser=optimiser,
            seconds=self.clock.snapshot(),
            average=self.average,
        )

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        self.registry.log_metrics(self.run_id, metrics, step=step)

    def log_dict(self, data: Any, artifact_file: str) -> None:
        self.registry.log_dict(self.run_id, data, artifact_file)


def run_id_for(config: TrainConfig, registry: Registry, work: Path, *, resuming: bool) -> str:
    """The MLflow run this training logs into: the interrupted one when resuming, else a new one."""
    run_file = work / RUN_FILE
    if resuming and run_file.exists():
        return json.loads(run_file.read_text())["run_id"]
    run_id = registry.start_run(name="train", tags={KIND_TAG: Kind.RETRAIN}, params=config.params())
    run_file.write_text(json.dumps({"run_id": run_id, "config": config.params()}))
    return run_id
