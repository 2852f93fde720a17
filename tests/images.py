"""Tiny generated images for tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def face_like(size: int = 96, seed: int = 0) -> Image.Image:
    """A pale oval with two eyes and a mouth on a noisy background: enough to exercise the pipeline."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    m = size // 6
    draw.ellipse((m, m, size - m, size - m), fill=(235, 200, 180))
    eye = size // 12
    draw.ellipse((size * 0.35 - eye, size * 0.4 - eye, size * 0.35 + eye, size * 0.4 + eye), fill=(30, 30, 30))
    draw.ellipse((size * 0.65 - eye, size * 0.4 - eye, size * 0.65 + eye, size * 0.4 + eye), fill=(30, 30, 30))
    draw.arc((size * 0.3, size * 0.5, size * 0.7, size * 0.75), 0, 180, fill=(120, 20, 20), width=max(1, size // 30))
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def jpeg_bytes(size: int = 96, seed: int = 0) -> bytes:
    return encode(face_like(size, seed), "JPEG", quality=90)
