"""Progress reporting shared by training code: a callback receives one event per step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    step: int
    total: int
    epoch: int | None = None
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    eta_seconds: float | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 1.0


ProgressCallback = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """A callback that ignores events."""


class OverallProgress:
    """Adds the whole run's fraction done and time left to each stage's events (``overall_fraction``,
    ``overall_eta_seconds`` in their metrics), from each stage's expected share of the time."""

    def __init__(self, progress: ProgressCallback, shares: dict[str, float]) -> None:
        total = sum(shares.values()) or 1.0
        self.progress = progress
        self.shares = {stage: share / total for stage, share in shares.items()}
        self.began = time.monotonic()
        self.first: float | None = None  # where this session started: a resumed run has done some already

    def done(self, event: ProgressEvent) -> float:
        stages = list(self.shares)
        before = sum(self.shares[s] for s in stages[: stages.index(event.stage)])
        return min(1.0, before + self.shares[event.stage] * event.fraction)

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage not in self.shares:
            self.progress(event)
            return
        done = self.done(event)
        self.first = done if self.first is None else self.first
        gained = done - self.first
        metrics = {**event.metrics, "overall_fraction": round(done, 4)}
        if gained >= 0.02:  # too early an estimate swings wildly
            metrics["overall_eta_seconds"] = (time.monotonic() - self.began) / gained * (1.0 - done)
        self.progress(replace(event, metrics=metrics))
