"""Checkpoints: where an interrupted run resumes from, and the seconds each stage took so far."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.extractor import Extractor
from mlcore.training.config import CHECKPOINT


class Clock:
    """Seconds per stage, carried across resumes through the checkpoint."""

    def __init__(self, previous: dict[str, float] | None = None) -> None:
        self.seconds = dict(previous or {})
        self.stage: str | None = None
        self.started = 0.0

    def begin(self, stage: str) -> None:
        self.end()
        self.stage, self.started = stage, time.monotonic()

    def end(self) -> None:
        if self.stage is not None:
            self.seconds = self.snapshot()
            self.stage = None

    def snapshot(self) -> dict[str, float]:
        """Seconds so far, the running stage included (what a checkpoint must carry)."""
        seconds = dict(self.seconds)
        if self.stage is not None:
            seconds[self.stage] = seconds.get(self.stage, 0.0) + time.monotonic() - self.started
        return seconds


def save_checkpoint(
    path: Path,
    *,
    stage: str,
    step: int,
    extractor: Extractor,
    classifier: nn.Module,
    optimiser: torch.optim.Optimizer | None,
    seconds: dict[str, float],
    average: dict[str, Any] | None = None,
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
            "average": average or {},
        },
        tmp,
    )
    tmp.replace(path)  # atomic: an interruption mid-write leaves the previous checkpoint intact


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def latest_work_dir(root: Path) -> Path | None:
    """The most recently checkpointed run folder under ``root``, for ``--resume`` without a name."""
    found = sorted(root.glob(f"*/{CHECKPOINT}"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None
