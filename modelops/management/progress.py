"""A tqdm progress bar per training stage, fed by the backend's progress events (train, evaluate, bootstrap_model)."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from predictions.ml import ProgressEvent


class StageBars:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.stage: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage != self.stage:
            self.close()
            self.stage = event.stage
            self.bar = tqdm(total=event.total, desc=event.stage, file=self.stream, dynamic_ncols=True)
        assert self.bar is not None
        self.bar.n = event.step
        postfix = {}
        if event.epoch is not None:
            postfix["epoch"] = event.epoch
        if event.loss is not None:
            postfix["loss"] = f"{event.loss:.3f}"
        postfix.update({k: f"{v:.3f}" for k, v in event.metrics.items() if not k.startswith("overall_")})
        if event.eta_seconds is not None:
            postfix["eta"] = _clock(event.eta_seconds)
        if "overall_eta_seconds" in event.metrics:
            postfix["all done in"] = _clock(event.metrics["overall_eta_seconds"])
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"
