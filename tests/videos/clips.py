"""Tiny generated clips for tests: a few frames of generated images, written with the server's own writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.images import face_like
from videos.media import write_clip


def clip_of(path: Path, images: list[Image.Image], *, fps: int = 10) -> bytes:
    write_clip(path, images, fps=fps)
    return path.read_bytes()


def faces_clip(path: Path, *, seconds: float = 2.0, fps: int = 10, seed: int = 0) -> bytes:
    """A face-like picture on noise, a new one each second."""
    return clip_of(path, [face_like(64, seed + int(i / fps)) for i in range(round(seconds * fps))], fps=fps)


def blank_clip(path: Path, *, seconds: float = 2.0, fps: int = 10) -> bytes:
    """Flat grey frames: nowhere a face (for the fake backend, one flat colour has none)."""
    grey = Image.fromarray(np.full((48, 64, 3), 90, dtype=np.uint8))
    return clip_of(path, [grey] * round(seconds * fps), fps=fps)
