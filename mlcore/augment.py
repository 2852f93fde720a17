"""Batch augmentation on normalised image tensors, seeded through a ``torch.Generator``.

Working on whole batches keeps augmentation cheap next to the backbone on a 2-core CPU. The geometry
stays centred on the face crop (small scale, shift and rotation), as inference sees the crop whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5
    max_rotation_deg: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)
    max_shift: float = 0.08  # fraction of the side
    brightness: float = 0.25
    contrast: float = 0.25
    grey: float = 0.15  # chance of a grey copy: FER2013 is grey, infant photos mostly are not
    erase: float = 0.25  # chance of blanking a random patch, so no single facial region is relied on


STRONG = AugmentConfig()
LIGHT = AugmentConfig(
    max_rotation_deg=10.0, scale=(0.9, 1.1), max_shift=0.05, brightness=0.2, contrast=0.2, grey=0.0, erase=0.0
)


def augment(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """A randomly transformed copy of an N×3×H×W batch (already normalised around zero)."""
    n = x.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-config.max_rotation_deg, config.max_rotation_deg) * math.pi / 180
    scale = uniform(*config.scale)
    flip = torch.where(torch.rand(n, generator=generator) < config.flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    theta[:, 0, 2] = uniform(-config.max_shift, config.max_shift) * 2
    theta[:, 1, 2] = uniform(-config.max_shift, config.max_shift) * 2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    if config.grey > 0:
        grey = (torch.rand(n, generator=generator) < config.grey).view(n, 1, 1, 1)
        out = torch.where(grey, out.mean(dim=1, keepdim=True).expand_as(out), out)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = uniform(1 - config.contrast, 1 + config.contrast).view(n, 1, 1, 1)
    brightness = uniform(-config.brightness, config.brightness).view(n, 1, 1, 1)
    out = (out - mean) * contrast + mean + brightness
    if config.erase > 0:
        side = x.shape[-1]
        for i in torch.nonzero(torch.rand(n, generator=generator) < config.erase).flatten().tolist():
            h = int(side * (0.15 + 0.2 * torch.rand(1, generator=generator)))
            top = int(torch.randint(0, side - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, side - h + 1, (1,), generator=generator))
            out[i, :, top : top + h, left : left + h] = 0.0
    return out
