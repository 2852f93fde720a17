"""The two training stages: FER2013 source training, then the infant fine-tune with FER rows mixed in."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mlcore.augment import LIGHT, STRONG, augment
from mlcore.extractor import Extractor
from mlcore.labels import NUM_CLASSES
from mlcore.progress import ProgressEvent
from mlcore.training import averaging
from mlcore.training.config import TrainingCancelled
from mlcore.training.data import fer_batch
from mlcore.training.run import TrainRun


def fer_stage(run: TrainRun, *, start: int, optimizer_state: dict[str, Any] | None) -> None:
    """Supervised training on adult faces: the extractor learns what expressions look like."""
    config, fer = run.config, run.fer
    steps = config.fer_steps
    if steps <= 0 or fer is None:
        return
    optimiser = _optimiser(run, config.fer_lr, optimizer_state)
    train_labels = fer.labels[fer.train]
    # Sample with probability ∝ 1/sqrt(frequency) as well: together with the loss weights rare classes are seen.
    p = _class_weights(train_labels).numpy()[train_labels].astype(np.float64)
    p /= p.sum()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    run.extractor.train()
    run.classifier.train()
    pace, losses = _Pace("fer", total=steps, first=start), []
    for step in range(start, steps):
        if run.should_stop():
            run.save("fer", step, optimiser)
            raise TrainingCancelled(f"cancelled at FER step {step}")
        # One generator per step: a resumed run draws exactly the batches the uninterrupted one would.
        rng = np.random.default_rng([config.seed, 1, step])
        idx = fer.train[rng.choice(len(fer.train), size=config.fer_batch, p=p)]
        x = augment(fer_batch(fer, idx, config.image_size), LIGHT, torch.Generator().manual_seed(step))
        _cosine(optimiser, config.fer_lr, step, steps, warmup=min(20, steps))
        loss = _step(optimiser, loss_fn(_logits(run, x), torch.from_numpy(fer.labels[idx])))
        losses.append(loss)
        pace.report(run, step + 1, epoch=step // config.checkpoint_every + 1, loss=loss)
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == steps:
            run.log_metrics({"fer_train_loss": float(np.mean(losses))}, step=step + 1)
            losses = []
            run.save("fer", step + 1, optimiser)


def infant_stage(run: TrainRun, *, start: int, optimizer_state: dict[str, Any] | None) -> None:
    """Fine-tune the whole extractor on labeled infant photos, with FER rows mixed in against forgetting."""
    config, infant = run.config, run.infant
    epochs = config.infant_epochs
    if epochs <= 0:
        return
    per_epoch = math.ceil(len(infant.split.train) / config.infant_batch)
    total = epochs * per_epoch
    optimiser = _optimiser(run, config.infant_lr, optimizer_state)
    loss_fn = _MixedLoss(run)
    pace = _Pace("infant", total=total, first=start * per_epoch)
    for epoch in range(start, epochs):
        run.extractor.train()
        run.classifier.train()
        rng = np.random.default_rng([config.seed, 2, epoch])
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = rng.permutation(infant.split.train)
        losses = []
        for b in range(per_epoch):
            if run.should_stop():
                run.save("infant", epoch, optimiser)
                raise TrainingCancelled(f"cancelled in infant epoch {epoch + 1}")
            idx = order[b * config.infant_batch : (b + 1) * config.infant_batch]
            global_step = epoch * per_epoch + b
            _cosine(optimiser, config.infant_lr, global_step, total, warmup=min(per_epoch, total))
            losses.append(_step(optimiser, loss_fn(idx, rng, generator)))
            pace.report(run, global_step + 1, epoch=epoch + 1, loss=losses[-1])
        val = _linear_eval(
            run.extractor, run.classifier, infant.tensors[infant.split.val], infant.labels[infant.split.val]
        )
        mean = float(np.mean(losses))
        run.log_metrics({"infant_train_loss": mean, "infant_val_accuracy_linear": val}, step=epoch + 1)
        pace.report(run, (epoch + 1) * per_epoch, epoch=epoch + 1, loss=mean, metrics={"val_acc": val})
        if averaging.should_average(epoch, epochs=epochs, last=config.average_epochs):
            averaging.accumulate(run.average, {"extractor": run.extractor, "classifier": run.classifier})
        run.save("infant", epoch + 1, optimiser)
    averaging.apply(run.average, {"extractor": run.extractor, "classifier": run.classifier})


class _MixedLoss:
    """An infant batch's class-weighted loss, plus half the loss of the FER rows mixed into it."""

    def __init__(self, run: TrainRun) -> None:
        self.run = run
        self.infant_loss = nn.CrossEntropyLoss(
            weight=_class_weights(run.infant.labels[run.infant.split.train]), label_smoothing=0.1
        )
        self.fer_loss = nn.CrossEntropyLoss(label_smoothing=0.1)
        self.n_fer = round(run.config.fer_mix * run.config.infant_batch) if run.fer is not None else 0

    def __call__(self, idx: np.ndarray, rng: np.random.Generator, generator: torch.Generator) -> torch.Tensor:
        run, infant, fer = self.run, self.run.infant, self.run.fer
        x = augment(infant.tensors[torch.from_numpy(idx)], STRONG, generator)
        y = torch.from_numpy(infant.labels[idx])
        x, mixed = self._mixup(x, y, rng)
        if not self.n_fer or fer is None:
            return mixed(_logits(run, x))
        fidx = fer.train[rng.integers(0, len(fer.train), size=self.n_fer)]
        fx = augment(fer_batch(fer, fidx, run.config.image_size), LIGHT, generator)
        logits = _logits(run, torch.cat([x, fx]))
        fer_y = torch.from_numpy(fer.labels[fidx])
        return mixed(logits[: len(idx)]) + 0.5 * self.fer_loss(logits[len(idx) :], fer_y)

    def _mixup(
        self, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """The infant rows blended pairwise (mixup) when the config asks, and the loss of their logits."""
        alpha = self.run.config.mixup
        if alpha <= 0:
            return x, lambda logits: self.infant_loss(logits, y)
        lam = float(rng.beta(alpha, alpha))
        partner = torch.from_numpy(rng.permutation(len(y)))
        blended = lam * x + (1 - lam) * x[partner]
        return (
            blended,
            lambda logits: lam * self.infant_loss(logits, y) + (1 - lam) * self.infant_loss(logits, y[partner]),
        )


def _logits(run: TrainRun, x: torch.Tensor) -> torch.Tensor:
    """The training classifier's logits; batches go channels-last, as the networks are while they train."""
    return run.classifier(run.extractor(x.contiguous(memory_format=torch.channels_last)))


def _class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-square-root class frequencies: rare labels ("disgust") count more, without swamping the rest."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights / weights[counts > 0].mean(), dtype=torch.float32)


def _optimiser(run: TrainRun, lr: float, state: dict[str, Any] | None) -> torch.optim.Optimizer:
    parameters = list(run.extractor.parameters()) + list(run.classifier.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-4)
    if state:
        optimiser.load_state_dict(state)
    return optimiser


def _step(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def _cosine(optimiser: torch.optim.Optimizer, base: float, step: int, total: int, warmup: int) -> None:
    lr = base * (step + 1) / warmup if step < warmup else base * 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
    for group in optimiser.param_groups:
        group["lr"] = lr


@dataclass(frozen=True)
class _Pace:
    """Progress events of one stage, with the time left estimated from this session's steps alone."""

    stage: str
    total: int
    first: int  # steps done before this session (a resumed run)
    began: float = field(default_factory=time.monotonic)

    def report(
        self, run: TrainRun, step: int, *, epoch: int, loss: float, metrics: dict[str, float] | None = None
    ) -> None:
        """An event for ``step`` steps done in all."""
        done = step - self.first
        eta = (time.monotonic() - self.began) / done * (self.total - step) if done else None
        event = ProgressEvent(
            self.stage, step, self.total, epoch=epoch, loss=loss, metrics=metrics or {}, eta_seconds=eta
        )
        run.progress(event)


def _linear_eval(extractor: Extractor, classifier: nn.Module, x: torch.Tensor, y: np.ndarray) -> float:
    extractor.eval()
    classifier.eval()
    with torch.inference_mode():
        predicted = torch.cat([classifier(extractor(x[i : i + 64])).argmax(1) for i in range(0, len(x), 64)])
    return float((predicted.numpy() == y).mean()) if len(y) else 0.0
