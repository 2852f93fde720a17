"""Datasets: FER2013 in its canonical CSV layout, image folders with one sub-folder per label, and the data
folder that holds both."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mlcore.imageio import open_image_file
from mlcore.labels import LABEL_INDEX, LABELS, NUM_CLASSES

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}
FER_FOLDER = "fer2013"
INFANT_FOLDER = "infant"


@dataclass(frozen=True)
class DataFolders:
    """What a data folder holds for training; None where it holds nothing of that kind."""

    fer_csv: Path | None
    infant_dir: Path | None


def data_folders(data_dir: Path | None) -> DataFolders:
    """The first FER2013 CSV (plain or gzipped, by name) under ``<data_dir>/fer2013/`` and ``<data_dir>/infant/``."""
    if data_dir is None:
        return DataFolders(fer_csv=None, infant_dir=None)
    root = Path(data_dir)
    fer = root / FER_FOLDER
    found = sorted(fer.glob("*.csv*")) if fer.is_dir() else []
    infant = root / INFANT_FOLDER
    return DataFolders(fer_csv=found[0] if found else None, infant_dir=infant if infant.is_dir() else None)


@dataclass(frozen=True)
class FolderItem:
    path: Path
    label: int


def folder_items(root: Path) -> list[FolderItem]:
    """Every image under ``root/<label>/``, sorted for reproducibility; unknown folders are an error."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    items: list[FolderItem] = []
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            continue
        if child.name not in LABEL_INDEX:
            raise ValueError(f"folder {child} is not one of the labels {', '.join(LABELS)}")
        items.extend(
            FolderItem(path=path, label=LABEL_INDEX[child.name])
            for path in sorted(child.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES
        )
    return items


def image_files(root: Path) -> list[Path]:
    """Every image file under ``root`` at any depth, sorted: photos without labels (uploads for pseudo-labels)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def _open_text(path: Path) -> io.TextIOBase:
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def read_fer_csv(path: Path, *, limit: int | None = None, usage: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 rows as (n × 48 × 48 uint8 faces, n labels); ``usage`` keeps one ``Usage`` value."""
    faces: list[np.ndarray] = []
    labels: list[int] = []
    with _open_text(Path(path)) as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path} is not a FER2013 CSV: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            if usage is not None and row.get("Usage") != usage:
                continue
            label = int(row["emotion"])
            if not 0 <= label < NUM_CLASSES:
                raise ValueError(f"{path}: emotion {label} is outside 0..{NUM_CLASSES - 1}")
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f"{path}: a row has {pixels.size} pixels, expected 2304")
            faces.append(pixels.reshape(48, 48))
            labels.append(label)
            if limit is not None and len(labels) >= limit:
                break
    return np.stack(faces) if faces else np.zeros((0, 48, 48), np.uint8), np.array(labels, dtype=np.int64)


def fer_images(faces: np.ndarray) -> Iterator[Image.Image]:
    for face in faces:
        yield Image.fromarray(face, mode="L").convert("RGB")


def is_fer_csv(path: Path) -> bool:
    """Whether ``path`` names a FER2013 CSV (plain or gzipped) rather than an image folder."""
    return Path(path).is_file() and str(path).lower().endswith((".csv", ".csv.gz"))


def write_fer_csv(path: Path, faces: np.ndarray, labels: np.ndarray, *, usage: str = "Training") -> None:
    """Write rows in the canonical layout (used to make test data and FER subsets)."""
    with _open_text_for_writing(Path(path)) as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for face, label in zip(faces, labels, strict=True):
            writer.writerow(
                [int(label), " ".join(str(int(v)) for v in np.asarray(face, dtype=np.uint8).ravel()), usage]
            )


def _open_text_for_writing(path: Path) -> io.TextIOBase:
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


@dataclass(frozen=True)
class LabeledImages:
    """Labeled pictures from either source: ``names`` are relative paths, or ``fer:<row>`` for CSV rows."""

    images: list[Image.Image]
    labels: np.ndarray
    names: list[str]
    precropped: bool  # FER2013 faces are already cropped; photos still need the face detector


def load_labeled(path: Path, *, limit: int | None = None) -> LabeledImages:
    """An image folder (one sub-folder per label) or a FER2013 CSV, as RGB images."""
    path = Path(path)
    if is_fer_csv(path):
        faces, labels = read_fer_csv(path, limit=limit)
        return LabeledImages(list(fer_images(faces)), labels, [f"fer:{i}" for i in range(len(labels))], True)
    items = folder_items(path)[:limit]
    return LabeledImages(
        images=[open_image_file(str(item.path)) for item in items],
        labels=np.array([item.label for item in items], dtype=np.int64),
        names=[item.path.relative_to(path).as_posix() for item in items],
        precropped=False,
    )
