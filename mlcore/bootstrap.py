"""A first model in minutes: frozen ImageNet backbone features, a trained 64-d projection, an MLP head.

The full domain-adaptation training lives in ``mlcore.training``; this is the fast path that lets a
fresh install serve real predictions right away.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.model_selection import train_test_split
from torch import nn

from mlcore.datasets import fer_images, folder_items, read_fer_csv
from mlcore.extractor import Extractor, ExtractorConfig, build_extractor
from mlcore.faces import FaceDetector, crop_face, make_detector
from mlcore.imageio import open_image_file
from mlcore.labels import NUM_CLASSES
from mlcore.metrics import accuracy, expected_calibration_error, macro_f1, reliability_bins, reliability_metrics
from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.preprocess import batch
from mlcore.progress import ProgressCallback, ProgressEvent, no_progress
from mlcore.reference import ReferenceData
from mlcore.registry import Registry


@dataclass(frozen=True)
class BootstrapResult:
    version: str
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class _Domain:
    name: str
    images: list[Image.Image]
    labels: np.ndarray


@dataclass(frozen=True)
class _Rows:
    """Every row's backbone features, label and domain, and which rows train and which validate."""

    x: np.ndarray
    y: np.ndarray
    domain: np.ndarray
    train: np.ndarray
    val: np.ndarray

    def val_of(self, domain: str) -> np.ndarray:
        return self.val[self.domain[self.val] == domain]


def bootstrap(
    registry: Registry,
    *,
    fer_csv: Path | None = None,
    image_dir: Path | None = None,
    fer_limit: int = 3000,
    source_share: float = 0.2,
    config: ExtractorConfig | None = None,
    imagenet: bool = True,
    seed: int = 0,
    progress: ProgressCallback = no_progress,
) -> BootstrapResult:
    """Train a first model from whatever data is given and register it; whoever asked decides whether it goes live."""
    if fer_csv is None and image_dir is None:
        raise ValueError("give a FER2013 CSV, an image folder, or both")
    started = time.monotonic()
    torch.manual_seed(seed)
    config = config or ExtractorConfig()
    extractor = build_extractor(config, imagenet=imagenet).eval()
    detector = make_detector(config.face_detector)
    domains = _domains(image_dir, fer_csv, detector, fer_limit=fer_limit, margin=config.face_margin, progress=progress)
    rows = _rows(extractor, domains, config, seed=seed, progress=progress)
    train, y = rows.train, rows.y
    weights = _sampling_weights(y[train], rows.domain[train], source_share=source_share)
    _train_projection(extractor, rows.x[train], y[train], weights, seed=seed, progress=progress)
    with torch.inference_mode():
        embeddings = extractor.project(torch.from_numpy(rows.x)).numpy()
    head = fit_head(new_head(seed=seed), embeddings[train], y[train], epochs=40, seed=seed, sample_weight=weights)
    metrics: dict[str, float] = {}
    for domain in domains:
        idx = rows.val_of(domain.name)
        probabilities = head_probabilities(head, embeddings[idx])
        predicted = probabilities.argmax(axis=1)
        metrics[f"{domain.name}_accuracy"] = accuracy(y[idx], predicted)
        metrics[f"{domain.name}_macro_f1"] = macro_f1(y[idx], predicted)
        metrics[f"{domain.name}_ece"] = expected_calibration_error(probabilities, y[idx])
        metrics[f"{domain.name}_n_val"] = float(len(idx))
        metrics.update(reliability_metrics(reliability_bins(probabilities, y[idx]), domain.name))
    reference = ReferenceData(
        val_x={d.name: embeddings[rows.val_of(d.name)] for d in domains},
        val_y={d.name: y[rows.val_of(d.name)] for d in domains},
        replay_x=embeddings[train],
        replay_y=y[train],
        replay_domain=rows.domain[train],
    )
    extractor_id = registry.log_extractor(
        extractor, params={"origin": "bootstrap", "imagenet": imagenet}, reference=reference
    )
    params = {"fer_csv": fer_csv or "", "image_dir": image_dir or "", "fer_limit": fer_limit}
    params |= {"image_size": config.image_size, "arch": config.arch, "imagenet": imagenet, "seed": seed}
    version = registry.register(head=head, extractor_id=extractor_id, kind="bootstrap", metrics=metrics, params=params)
    return BootstrapResult(version=version, metrics=metrics, seconds=time.monotonic() - started)


def _domains(
    image_dir: Path | None,
    fer_csv: Path | None,
    detector: FaceDetector,
    *,
    fer_limit: int,
    margin: float,
    progress: ProgressCallback,
) -> list[_Domain]:
    """Infant photos cropped to faces, and FER2013 rows, whichever were given."""
    domains: list[_Domain] = []
    if image_dir is not None:
        items = folder_items(image_dir)
        faces = []
        for i, item in enumerate(items, 1):
            faces.append(crop_face(open_image_file(str(item.path)), detector, margin=margin).image)
            progress(ProgressEvent(stage="faces", step=i, total=len(items)))
        domains.append(_Domain("infant", faces, np.array([item.label for item in items])))
    if fer_csv is not None:
        fer_faces, fer_labels = read_fer_csv(fer_csv, limit=fer_limit)
        domains.append(_Domain("fer", list(fer_images(fer_faces)), fer_labels))
    return domains


def _rows(
    extractor: Extractor, domains: list[_Domain], config: ExtractorConfig, *, seed: int, progress: ProgressCallback
) -> _Rows:
    """Backbone features of every image, split 80/20 stratified by domain and label where every stratum allows it."""
    features, labels, domain_of = [], [], []
    for domain in domains:
        features.append(_backbone_features(extractor, domain.images, config, domain.name, progress))
        labels.append(domain.labels)
        domain_of.extend([domain.name] * len(domain.labels))
    y = np.concatenate(labels)
    domain_array = np.array(domain_of)
    strata = np.char.add(domain_array, y.astype(str))
    stratify = strata if np.unique(strata, return_counts=True)[1].min() >= 2 else None
    train, val = train_test_split(np.arange(len(y)), test_size=0.2, random_state=seed, stratify=stratify)
    return _Rows(x=np.concatenate(features), y=y, domain=domain_array, train=train, val=val)


def _backbone_features(
    extractor: Extractor,
    images: Sequence[Image.Image],
    config: ExtractorConfig,
    stage: str,
    progress: ProgressCallback,
    batch_size: int = 64,
) -> np.ndarray:
    chunks = []
    total = (len(images) + batch_size - 1) // batch_size
    for step, start in enumerate(range(0, len(images), batch_size), 1):
        tensors = batch(images[start : start + batch_size], size=config.image_size, mean=config.mean, std=config.std)
        with torch.inference_mode():
            chunks.append(extractor.backbone(tensors).numpy())
        progress(ProgressEvent(stage=f"{stage} features", step=step, total=total))
    return np.concatenate(chunks).astype(np.float32)


def _sampling_weights(labels: np.ndarray, domains: np.ndarray, *, source_share: float) -> np.ndarray:
    """Rows drawn class-balanced within each domain; FER2013 gets ``source_share`` of the draws when
    infant photos are there too: the model is for infants (drawing rows as they come, ~85 % FER2013, cost ~8 points)."""
    weights = np.zeros(len(labels))
    present = sorted(set(domains))
    for domain in present:
        share = 1.0 if len(present) == 1 else (source_share if domain == "fer" else 1.0 - source_share)
        rows = domains == domain
        counts = np.bincount(labels[rows], minlength=NUM_CLASSES)
        classes = np.count_nonzero(counts)
        weights[rows] = share / classes / counts[labels[rows]]
    return weights / weights.sum()


def _train_projection(
    extractor: Extractor,
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    seed: int,
    progress: ProgressCallback,
    steps: int = 400,
) -> None:
    """Fit the 64-d projection (with a throw-away linear classifier) on frozen backbone features."""
    generator = torch.Generator().manual_seed(seed)
    classifier = nn.Linear(extractor.config.embedding_dim, NUM_CLASSES)
    parameters = list(extractor.project.parameters()) + list(classifier.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=3e-3, weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    x, y, p = torch.from_numpy(features), torch.from_numpy(labels), torch.from_numpy(weights)
    extractor.project.train()
    for step in range(1, steps + 1):
        idx = torch.multinomial(p, min(128, len(y)), replacement=True, generator=generator)
        loss = loss_fn(classifier(torch.relu(extractor.project(x[idx]))), y[idx])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 20 == 0 or step == steps:
            progress(ProgressEvent(stage="projection", step=step, total=steps, loss=loss.item()))
    extractor.project.eval()
