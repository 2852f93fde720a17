"""The training stages: FER2013 source training, target-domain batch norm, the infant fine-tune, embeddings."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from mlcore.augment import LIGHT, STRONG, augment
from mlcore.datasets import fer_images
from mlcore.extractor import Extractor
from mlcore.preprocess import batch
from mlcore.progress import ProgressCallback, ProgressEvent
from mlcore.training.config import _NORM, TrainConfig, TrainingCancelled
from mlcore.training.data import _class_weights, _Fer, _fer_batch, _Infant


class _Clock:
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


def _cosine(optimiser: torch.optim.Optimizer, base: float, step: int, total: int, warmup: int) -> None:
    lr = base * (step + 1) / warmup if step < warmup else base * 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
    for group in optimiser.param_groups:
        group["lr"] = lr


def _eta(started: float, done: int, remaining: int) -> float | None:
    return (time.monotonic() - started) / done * remaining if done else None


def _fer_stage(
    config,
    fer,
    extractor,
    classifier,
    start,
    checkpoint,
    registry,
    run_id,
    progress,  # type: ignore[no-untyped-def]
    should_stop,
    save,
) -> None:
    """Supervised training on adult faces: the extractor learns what expressions look like."""
    steps = config.fer_steps
    if steps <= 0 or fer is None:
        return
    parameters = list(extractor.parameters()) + list(classifier.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=config.fer_lr, weight_decay=1e-4)
    if checkpoint is not None and checkpoint.get("optimizer"):
        optimiser.load_state_dict(checkpoint["optimizer"])
    train_labels = fer.labels[fer.train]
    weights = _class_weights(train_labels)
    # Sample with probability ∝ 1/sqrt(frequency) as well: together with the loss weights rare classes are seen.
    p = weights.numpy()[train_labels].astype(np.float64)
    p /= p.sum()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    extractor.train()
    classifier.train()
    session_start, losses = time.monotonic(), []
    for step in range(start, steps):
        if should_stop():
            save("fer", step, optimiser)
            raise TrainingCancelled(f"cancelled at FER step {step}")
        # One generator per step: a resumed run draws exactly the batches the uninterrupted one would.
        rng = np.random.default_rng([config.seed, 1, step])
        idx = fer.train[rng.choice(len(fer.train), size=config.fer_batch, p=p)]
        x = augment(_fer_batch(fer, idx, config.image_size), LIGHT, torch.Generator().manual_seed(step))
        y = torch.from_numpy(fer.labels[idx])
        _cosine(optimiser, config.fer_lr, step, steps, warmup=min(20, steps))
        loss = loss_fn(classifier(extractor(x)), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        chunk = step // config.checkpoint_every + 1
        progress(
            ProgressEvent(
                stage="fer",
                step=step + 1,
                total=steps,
                epoch=chunk,
                loss=loss.item(),
                eta_seconds=_eta(session_start, step + 1 - start, steps - step - 1),
            )
        )
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == steps:
            registry.client.log_metric(run_id, "fer_train_loss", float(np.mean(losses)), step=step + 1)
            losses = []
            save("fer", step + 1, optimiser)


def _infant_stage(
    config,
    infant,
    fer,
    extractor,
    classifier,
    start,
    checkpoint,
    registry,
    run_id,
    progress,  # type: ignore[no-untyped-def]
    should_stop,
    save,
) -> None:
    """Fine-tune the whole extractor on labeled infant photos, with FER rows mixed in against forgetting."""
    epochs = config.infant_epochs
    if epochs <= 0:
        return
    train_idx = infant.split.train
    per_epoch = math.ceil(len(train_idx) / config.infant_batch)
    total = epochs * per_epoch
    parameters = list(extractor.parameters()) + list(classifier.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=config.infant_lr, weight_decay=1e-4)
    if checkpoint is not None and checkpoint.get("optimizer"):
        optimiser.load_state_dict(checkpoint["optimizer"])
    weights = _class_weights(infant.labels[train_idx])
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.1)
    fer_loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    n_fer = round(config.fer_mix * config.infant_batch) if fer is not None else 0
    session_start = time.monotonic()
    for epoch in range(start, epochs):
        extractor.train()
        classifier.train()
        rng = np.random.default_rng([config.seed, 2, epoch])
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = rng.permutation(train_idx)
        losses = []
        for b in range(per_epoch):
            if should_stop():
                save("infant", epoch, optimiser)
                raise TrainingCancelled(f"cancelled in infant epoch {epoch + 1}")
            idx = order[b * config.infant_batch : (b + 1) * config.infant_batch]
            x = augment(infant.tensors[torch.from_numpy(idx)], STRONG, generator)
            y = torch.from_numpy(infant.labels[idx])
            global_step = epoch * per_epoch + b
            _cosine(optimiser, config.infant_lr, global_step, total, warmup=min(per_epoch, total))
            if n_fer:
                fidx = fer.train[rng.integers(0, len(fer.train), size=n_fer)]
                fx = augment(_fer_batch(fer, fidx, config.image_size), LIGHT, generator)
                logits = classifier(extractor(torch.cat([x, fx])))
                loss = loss_fn(logits[: len(idx)], y) + 0.5 * fer_loss(
                    logits[len(idx) :], torch.from_numpy(fer.labels[fidx])
                )
            else:
                loss = loss_fn(classifier(extractor(x)), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            done = (epoch - start) * per_epoch + b + 1
            progress(
                ProgressEvent(
                    stage="infant",
                    step=global_step + 1,
                    total=total,
                    epoch=epoch + 1,
                    loss=loss.item(),
                    eta_seconds=_eta(session_start, done, total - global_step - 1),
                )
            )
        val = _linear_eval(extractor, classifier, infant.tensors[infant.split.val], infant.labels[infant.split.val])
        epoch_metrics = {"infant_train_loss": float(np.mean(losses)), "infant_val_accuracy_linear": val}
        registry.client.log_batch(run_id, metrics=[_metric(k, v, epoch + 1) for k, v in epoch_metrics.items()])
        progress(
            ProgressEvent(
                stage="infant",
                step=(epoch + 1) * per_epoch,
                total=total,
                epoch=epoch + 1,
                loss=float(np.mean(losses)),
                metrics={"val_acc": val},
                eta_seconds=_eta(session_start, (epoch + 1 - start) * per_epoch, total - (epoch + 1) * per_epoch),
            )
        )
        save("infant", epoch + 1, optimiser)


def _metric(key: str, value: float, step: int):  # type: ignore[no-untyped-def]
    from mlflow.entities import Metric

    return Metric(key=key, value=float(value), timestamp=int(time.time() * 1000), step=step)


def _linear_eval(extractor: Extractor, classifier: nn.Module, x: torch.Tensor, y: np.ndarray) -> float:
    extractor.eval()
    classifier.eval()
    with torch.inference_mode():
        predicted = torch.cat([classifier(extractor(x[i : i + 64])).argmax(1) for i in range(0, len(x), 64)])
    return float((predicted.numpy() == y).mean()) if len(y) else 0.0


def _adapt_batch_norm(extractor: Extractor, x: torch.Tensor, progress: ProgressCallback) -> None:
    """Target-domain normalisation: every batch-norm layer's statistics re-estimated on infant photos (AdaBN)."""
    norms = [m for m in extractor.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]  # timm's TF ports use 0.01, torch's default is 0.1: keep each
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over all batches, not an exponential one
    extractor.train()
    data = torch.cat([x, x.flip(-1)])  # mirrored copies: more statistics, same domain
    with torch.no_grad():
        total = math.ceil(len(data) / 64)
        for i, start in enumerate(range(0, len(data), 64), 1):
            extractor(data[start : start + 64])
            progress(ProgressEvent(stage="adapt", step=i, total=total))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    extractor.eval()


def _embed(extractor: Extractor, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate(
            [extractor(x[i : i + 64]).numpy() for i in range(0, len(x), 64)]
            or [np.zeros((0, extractor.config.embedding_dim))]
        ).astype(np.float32)


def _embed_all(
    extractor: Extractor, infant: _Infant, fer: _Fer | None, config: TrainConfig, progress: ProgressCallback
) -> dict[str, Any]:
    """Embeddings through the same preprocessing as inference (FER rows go through PIL like an upload)."""
    out: dict[str, Any] = {"infant": _embed(extractor, infant.tensors)}
    progress(ProgressEvent(stage="embed", step=1, total=3))
    if fer is not None:
        rng = np.random.default_rng([config.seed, 3])
        replay = np.sort(rng.choice(fer.train, size=min(config.fer_replay_size, len(fer.train)), replace=False))
        out["fer_replay_idx"] = replay
        for i, (key, idx) in enumerate((("fer_val", fer.val), ("fer_replay", replay)), 2):
            faces = list(fer_images(fer.faces[torch.from_numpy(idx)].numpy()))
            tensors = batch(faces, size=config.image_size, mean=_NORM.mean, std=_NORM.std)
            out[key] = _embed(extractor, tensors)
            progress(ProgressEvent(stage="embed", step=i, total=3))
    return out
