"""Tiny generated training data: an infant-style image folder and a FER2013-style CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mlcore.datasets import write_fer_csv
from mlcore.labels import LABELS


def distinct_face(seed: int, size: int = 64, label: int = 0) -> Image.Image:
    """A face-like drawing on a coarse random background, so that no two seeds look like near-duplicates."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    image = coarse.resize((size, size), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    m = size // 5
    draw.ellipse((m, m, size - m, size - m), fill=(235, 200, 180))
    # The mouth's height depends on the label: something a tiny model can learn.
    top = size * (0.5 + 0.03 * label)
    draw.rectangle((size * 0.35, top, size * 0.65, top + size * 0.08), fill=(120, 20, 20))
    return image


def image_folder(root: Path, *, per_label: int = 4, duplicate: bool = True) -> Path:
    """``per_label`` distinct generated faces in each label's folder; optionally one photo under two labels."""
    for index, label in enumerate(LABELS):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_label):
            distinct_face(100 * index + k, label=index).save(folder / f"{k}.png")
    if duplicate:
        # The same photo, re-encoded, under a second label: the real infant set has such pairs.
        Image.open(root / "angry" / "0.png").convert("RGB").save(root / "sad" / "copy.jpg", quality=85)
    return root


def fer_csv(path: Path, *, per_label: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(LABELS)), per_label)
    faces = rng.integers(0, 256, size=(len(labels), 48, 48), dtype=np.uint8)
    faces[:, 10:20, :] = (labels * 30)[:, None, None]  # a label-dependent band, so the task is learnable
    write_fer_csv(path, faces, labels)
    return path
