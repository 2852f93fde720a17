"""Loading the two domains for training: infant photos cropped to faces (cached) and FER2013 rows."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from mlcore.datasets import folder_items, read_fer_csv
from mlcore.faces import crop_face, make_detector
from mlcore.imageio import open_image_file
from mlcore.labels import NUM_CLASSES
from mlcore.pipeline import prefetched
from mlcore.preprocess import batch
from mlcore.progress import ProgressCallback, ProgressEvent
from mlcore.split import Split, dhash, duplicate_groups, grouped_split, stratified_split
from mlcore.training.config import NORM, TrainConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InfantData:
    """Labeled infant photos cropped to faces, as tensors, and how they split into train, val and test."""

    tensors: torch.Tensor
    labels: np.ndarray
    names: list[str]
    split: Split
    found: int  # photos in which a face was found
    unlabeled: torch.Tensor  # faces of the photos nobody labeled (``TrainConfig.unlabeled``), when the head uses them


@dataclass(frozen=True)
class FerData:
    """FER2013 rows and the train and validation rows drawn from them."""

    faces: torch.Tensor  # uint8 n × 48 × 48
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray


def load_infant(config: TrainConfig, progress: ProgressCallback) -> InfantData:
    assert config.image_dir is not None
    root = Path(config.image_dir)
    withheld = {Path(name).resolve() for name in config.unlabeled}
    items = [item for item in folder_items(root) if item.path.resolve() not in withheld]
    if len(items) < NUM_CLASSES:
        raise ValueError(f"{root} holds {len(items)} images; training needs at least one per label")
    detector = make_detector(config.face_detector)
    faces: list[Image.Image] = []
    hashes: list[np.ndarray] = []
    found = 0
    # Files are read and decoded (or their cached crops read) on a second thread while faces are found on this one.
    read = prefetched(items, lambda item: _read_cached(item.path, detector, config))
    for i, photo in enumerate(read, 1):
        face, box_found, bits = _crop(photo, detector, config)
        faces.append(face)
        hashes.append(bits)
        found += box_found
        progress(ProgressEvent(stage="faces", step=i, total=len(items)))
    labels = np.array([item.label for item in items], dtype=np.int64)
    names = [item.path.relative_to(root).as_posix() for item in items]
    split = _split(config, labels, duplicate_groups(hashes), names)
    tensors = batch(faces, size=config.image_size, mean=NORM.mean, std=NORM.std)
    logger.info("infant photos: %d, face found in %d (%s)", len(items), found, detector.name)
    return InfantData(tensors, labels, names, split, found, _unlabeled_faces(config, detector))


def _unlabeled_faces(config: TrainConfig, detector: Any) -> torch.Tensor:
    """The unlabeled photos' face crops as tensors; none when the head will not use them."""
    paths = [Path(name) for name in config.unlabeled] if config.pseudo_confidence > 0 else []
    faces = [_crop(_read_cached(path, detector, config), detector, config)[0] for path in paths]
    if not faces:
        return torch.zeros((0, 3, config.image_size, config.image_size))
    return batch(faces, size=config.image_size, mean=NORM.mean, std=NORM.std)


def _split(config: TrainConfig, labels: np.ndarray, groups: np.ndarray, names: list[str]) -> Split:
    """The seeded split, or, when the config names the test photos, those and a seeded train/val split of the rest."""
    if config.test_names is None:
        return grouped_split(
            labels, groups, val_fraction=config.val_fraction, test_fraction=config.test_fraction, seed=config.seed
        )
    unknown = set(config.test_names) - set(names)
    if unknown:
        raise ValueError(f"{len(unknown)} test photos are not under {config.image_dir}, e.g. {sorted(unknown)[0]}")
    is_test = np.isin(names, config.test_names)
    if np.intersect1d(groups[is_test], groups[~is_test]).size:
        raise ValueError("a test photo has a near-duplicate outside the test photos: it would leak into training")
    rest = np.nonzero(~is_test)[0]
    split = grouped_split(
        labels[rest], groups[rest], val_fraction=config.val_fraction, test_fraction=0.0, seed=config.seed
    )
    return Split(train=rest[split.train], val=rest[split.val], test=np.nonzero(is_test)[0])


@dataclass(frozen=True)
class _Photo:
    """A photo as read from disk: its cached crop when there is one, else the decoded photo."""

    cached: Path | None  # where its crop is (or will be) cached; None when nothing is cached
    image: Image.Image | None = None  # decoded: no cached crop was found
    crop: tuple[Image.Image, bool, np.ndarray] | None = None  # the cached crop, whether a face was found, the dHash


def _read_cached(path: Path, detector: Any, config: TrainConfig) -> _Photo:
    """The photo's cached crop if it has one, else the photo decoded; safe to run on another thread."""
    data = path.read_bytes()
    key = hashlib.sha1(data + f"{detector.name}:{config.face_margin}".encode()).hexdigest()
    cached = Path(config.cache_dir) / f"{key}.png" if config.cache_dir is not None else None
    if cached is not None and cached.exists() and cached.with_suffix(".json").exists():
        info = json.loads(cached.with_suffix(".json").read_text())
        with Image.open(cached) as img:
            crop = img.convert("RGB"), bool(info["found"]), np.array(info["hash"], dtype=bool)
        return _Photo(cached=cached, crop=crop)
    return _Photo(cached=cached, image=open_image_file(str(path)))


def _crop(photo: _Photo, detector: Any, config: TrainConfig) -> tuple[Image.Image, bool, np.ndarray]:
    """The face crop, whether a face was found, and the photo's dHash; cached by content when asked."""
    if photo.crop is not None:
        return photo.crop
    assert photo.image is not None
    crop = crop_face(photo.image, detector, margin=config.face_margin)
    bits = dhash(photo.image)
    if photo.cached is not None:
        photo.cached.parent.mkdir(parents=True, exist_ok=True)
        crop.image.save(photo.cached, compress_level=1)  # lossless all the same: a quarter of the default's time
        meta = {"found": crop.found, "hash": bits.astype(int).tolist()}
        photo.cached.with_suffix(".json").write_text(json.dumps(meta))
    return crop.image, crop.found, bits


def load_fer(config: TrainConfig) -> FerData:
    assert config.fer_csv is not None
    faces, labels = _fer_rows_cached(Path(config.fer_csv), config)
    train_idx, val_idx = fer_split(labels, val_size=config.fer_val_size, seed=config.seed)
    return FerData(torch.from_numpy(faces), labels, train_idx, val_idx)


def _fer_rows_cached(path: Path, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 rows, decoded from the CSV once (~7 s for the gzipped 26k rows) and then read back from an array file."""
    if config.cache_dir is None:
        return read_fer_csv(path, limit=config.fer_limit)
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{config.fer_limit}".encode()).hexdigest()
    cached = Path(config.cache_dir) / f"fer-{key}.npz"
    if cached.exists():
        with np.load(cached) as rows:
            return rows["faces"], rows["labels"]
    faces, labels = read_fer_csv(path, limit=config.fer_limit)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".tmp.npz")
    np.savez(partial, faces=faces, labels=labels)
    partial.replace(cached)  # a run interrupted mid-write never leaves half an array behind
    return faces, labels


def fer_split(labels: np.ndarray, *, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 train and validation rows, as training draws them (``bench/accuracy.py`` redraws them)."""
    return stratified_split(labels, val_fraction=min(0.5, val_size / max(len(labels), 1)), seed=seed)


def fer_batch(fer: FerData, idx: np.ndarray, size: int) -> torch.Tensor:
    """FER faces as normalised 3-channel tensors at the extractor's size (mean = std = 0.5)."""
    x = fer.faces[torch.from_numpy(idx)].float().div(255.0).sub(0.5).div(0.5)[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous()
