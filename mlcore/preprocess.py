"""Turning face crops into normalised tensors, for inference and for training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image


def to_tensor(image: Image.Image, *, size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Resize to ``size``×``size`` RGB and normalise; returns a CHW float tensor."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32) / np.float32(255.0)
    normalised = (pixels - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(normalised.transpose(2, 0, 1).copy())


def batch(images: Sequence[Image.Image], *, size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    return torch.stack([to_tensor(img, size=size, mean=mean, std=std) for img in images])
