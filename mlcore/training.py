"""Full training: FER2013 source stage → infant fine-tune → target-domain BN statistics → head → calibration.

Every stage checkpoints into ``config.work_dir`` so an interrupted run resumes where it stopped;
the result is registered in MLflow as a new version whose run also holds the per-epoch metrics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from mlcore.augment import LIGHT, STRONG, augment
from mlcore.calibration import Calibration, calibrate, scale
from mlcore.datasets import fer_images, folder_items, read_fer_csv
from mlcore.extractor import Extractor, ExtractorConfig, build_extractor
from mlcore.faces import crop_face, make_detector
from mlcore.imageio import open_image_file
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import evaluate_probabilities
from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.preprocess import batch
from mlcore.progress import ProgressCallback, ProgressEvent, no_progress
from mlcore.reference import ReferenceData
from mlcore.registry import Registry
from mlcore.split import dhash, duplicate_groups, grouped_split, stratified_split

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
AFTER_FER = "after_fer.pt"
_NORM = ExtractorConfig()  # the extractor's normalisation (mean = std = 0.5), shared by every stage
RUN_FILE = "run.json"


class TrainingCancelled(RuntimeError):
    """``should_stop`` asked to stop; the last checkpoint is kept for ``resume``."""


@dataclass(frozen=True)
class TrainConfig:
    fer_csv: Path | None = None
    image_dir: Path | None = None
    work_dir: Path = Path("var/training/default")
    cache_dir: Path | None = None  # face crops and hashes, keyed by file content and detector
    resume: bool = False
    promote: bool = True
    seed: int = 0
    # extractor
    arch: str = "tf_efficientnet_lite0"
    imagenet: bool = True
    image_size: int = 128
    face_detector: str = "mtcnn"
    face_margin: float = 0.25
    # source stage (FER2013); 0 steps skips it
    fer_steps: int = 300
    fer_batch: int = 64
    fer_lr: float = 1e-3
    fer_limit: int | None = None
    fer_val_size: int = 1500
    fer_replay_size: int = 3000
    # target stage (infant photos); 0 epochs skips the fine-tune
    infant_epochs: int = 12
    infant_batch: int = 32
    infant_lr: float = 5e-4
    fer_mix: float = 0.25  # FER rows added to each infant batch, as a share of it: keeps the source skill
    adapt_bn: bool = True  # re-estimate every batch-norm statistic on infant photos (AdaBN) before the fine-tune
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    # head and calibration
    head_epochs: int = 60
    coverage: float = 0.85
    checkpoint_every: int = 50  # FER steps between checkpoints
    init_checkpoint: Path | None = None  # start from another run's post-FER checkpoint (ablations share it)
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def tiny(cls, *, fer_csv: Path | None, image_dir: Path, work_dir: Path, **overrides: Any) -> TrainConfig:
        """Seconds-long settings for tests: 32 px, random weights, no face detector."""
        settings: dict[str, Any] = dict(
            fer_csv=fer_csv,
            image_dir=image_dir,
            work_dir=work_dir,
            imagenet=False,
            image_size=32,
            face_detector="none",
            fer_steps=2,
            fer_batch=8,
            fer_val_size=14,
            fer_replay_size=20,
            infant_epochs=1,
            infant_batch=8,
            head_epochs=2,
            checkpoint_every=1,
            val_fraction=0.25,
            test_fraction=0.25,
        )
        settings.update(overrides)
        return cls(**settings)

    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if k not in ("tags", "resume", "work_dir", "cache_dir")}


@dataclass(frozen=True)
class TrainResult:
    version: str
    run_id: str
    extractor_id: str
    metrics: dict[str, float]
    calibration: Calibration
    seconds: float
    stage_seconds: dict[str, float]
    heldout: list[str]  # infant files (relative to the image folder) that no training step saw


@dataclass
class _Infant:
    tensors: torch.Tensor
    labels: np.ndarray
    names: list[str]
    split: Any
    found: int


@dataclass
class _Fer:
    faces: torch.Tensor  # uint8 n × 48 × 48
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray


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


def _load_infant(config: TrainConfig, progress: ProgressCallback) -> _Infant:
    assert config.image_dir is not None
    root = Path(config.image_dir)
    items = folder_items(root)
    if len(items) < NUM_CLASSES:
        raise ValueError(f"{root} holds {len(items)} images; training needs at least one per label")
    detector = make_detector(config.face_detector)
    faces: list[Image.Image] = []
    hashes: list[np.ndarray] = []
    found = 0
    for i, item in enumerate(items, 1):
        face, box_found, bits = _crop_cached(item.path, detector, config)
        faces.append(face)
        hashes.append(bits)
        found += box_found
        progress(ProgressEvent(stage="faces", step=i, total=len(items)))
    labels = np.array([item.label for item in items], dtype=np.int64)
    split = grouped_split(
        labels,
        duplicate_groups(hashes),
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    tensors = batch(faces, size=config.image_size, mean=_NORM.mean, std=_NORM.std)
    logger.info("infant photos: %d, face found in %d (%s)", len(items), found, detector.name)
    return _Infant(tensors, labels, [item.path.relative_to(root).as_posix() for item in items], split, found)


def _crop_cached(path: Path, detector: Any, config: TrainConfig) -> tuple[Image.Image, bool, np.ndarray]:
    """The face crop, whether a face was found, and the photo's dHash; cached by content when asked."""
    data = path.read_bytes()
    key = hashlib.sha1(data + f"{detector.name}:{config.face_margin}".encode()).hexdigest()
    if config.cache_dir is not None:
        cached = Path(config.cache_dir) / f"{key}.png"
        meta = cached.with_suffix(".json")
        if cached.exists() and meta.exists():
            info = json.loads(meta.read_text())
            with Image.open(cached) as img:
                return img.convert("RGB"), bool(info["found"]), np.array(info["hash"], dtype=bool)
    image = open_image_file(str(path))
    crop = crop_face(image, detector, margin=config.face_margin)
    bits = dhash(image)
    if config.cache_dir is not None:
        Path(config.cache_dir).mkdir(parents=True, exist_ok=True)
        crop.image.save(cached)
        meta.write_text(json.dumps({"found": crop.found, "hash": bits.astype(int).tolist()}))
    return crop.image, crop.found, bits


def _load_fer(config: TrainConfig) -> _Fer:
    assert config.fer_csv is not None
    faces, labels = read_fer_csv(Path(config.fer_csv), limit=config.fer_limit)
    train_idx, val_idx = fer_split(labels, val_size=config.fer_val_size, seed=config.seed)
    return _Fer(torch.from_numpy(faces), labels, train_idx, val_idx)


def fer_split(labels: np.ndarray, *, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 train and validation rows, as training draws them (``bench/accuracy.py`` redraws them)."""
    return stratified_split(labels, val_fraction=min(0.5, val_size / max(len(labels), 1)), seed=seed)


def _fer_batch(fer: _Fer, idx: np.ndarray, size: int) -> torch.Tensor:
    """FER faces as normalised 3-channel tensors at the extractor's size (mean = std = 0.5)."""
    x = fer.faces[torch.from_numpy(idx)].float().div(255.0).sub(0.5).div(0.5)[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous()


# ---- stages ---------------------------------------------------------------------------------------


def _class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-square-root class frequencies: rare labels ("disgust") count more, without swamping the rest."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights / weights[counts > 0].mean(), dtype=torch.float32)


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
