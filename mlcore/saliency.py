"""Why the model answered as it did: a heat map over the face crop for the class it chose, and a test of it.

Two methods, both through the whole model (extractor, MLP head, temperature): Grad-CAM on the extractor's
last convolutional block, and occlusion (a grey patch slid over the crop, the drop in probability kept).
``faithfulness_curve`` tests a map: blur the most salient pixels first; the faster the probability falls,
the more faithful the map (``bench/saliency.py`` compares the methods with it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy.ndimage import gaussian_filter
from torch.nn import functional

from mlcore.faces import Box
from mlcore.labels import LABELS
from mlcore.model import ExpressionModel
from mlcore.preprocess import batch

Method = Literal["gradcam", "occlusion"]
METHODS: tuple[Method, ...] = ("gradcam", "occlusion")
SERVED_METHOD: Method = "occlusion"  # the more faithful on infant photos: see bench/saliency.py
OCCLUSION_PATCH = 0.2  # side of the grey patch, as a share of the crop
OCCLUSION_STRIDE = 0.1
CURVE_STEPS = 16
CAPTION_HEIGHT = 28
OVERLAY_SIDE = 256  # the crop is the model's input size (128 px): enlarged so a page can show it


@dataclass(frozen=True)
class Saliency:
    """A map over the face crop (values 0..1, the crop's pixels) explaining one class."""

    label: str
    probability: float
    heatmap: np.ndarray
    crop: Image.Image
    face_box: Box | None
    method: str


def explain(model: ExpressionModel, image: Image.Image, *, method: Method = "occlusion") -> Saliency:
    """Crop the face as prediction does and explain the most probable class."""
    face = model.crop(image)
    crop = face.image.convert("RGB").resize((model.config.image_size,) * 2, Image.Resampling.BILINEAR)
    probabilities = class_probabilities(model, [crop])[0]
    target = int(np.argmax(probabilities))
    heatmap = grad_cam(model, crop, target) if method == "gradcam" else occlusion(model, crop, target)
    return Saliency(
        label=LABELS[target],
        probability=float(probabilities[target]),
        heatmap=heatmap,
        crop=crop,
        face_box=face.box,
        method=method,
    )


def class_probabilities(model: ExpressionModel, crops: list[Image.Image]) -> np.ndarray:
    """Calibrated probabilities (n × classes, label order) of already-cropped faces."""
    return model.probabilities(model.embed(crops))


def _head_logits(model: ExpressionModel, embedding: torch.Tensor) -> torch.Tensor:
    """The scikit-learn MLP head as torch operations, scaled by the temperature, in label order."""
    head = model.head
    x = embedding.double()
    last = len(head.coefs_) - 1
    for i, (weights, bias) in enumerate(zip(head.coefs_, head.intercepts_, strict=True)):
        x = x @ torch.as_tensor(weights, dtype=torch.float64) + torch.as_tensor(bias, dtype=torch.float64)
        if i < last:
            x = _activation(head.activation, x)
    logits = torch.full((x.shape[0], len(LABELS)), -1e9, dtype=x.dtype)
    logits[:, torch.as_tensor(head.classes_.astype(np.int64))] = x
    return logits / model.temperature


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    functions = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid, "identity": lambda t: t}
    return functions[name](x)


def grad_cam(model: ExpressionModel, crop: Image.Image, target: int) -> np.ndarray:
    """Grad-CAM of class ``target`` on the last convolutional block's feature map, upsampled to the crop."""
    config = model.config
    x = batch([crop], size=config.image_size, mean=config.mean, std=config.std)
    extractor = model.extractor
    backbone: Any = extractor.backbone  # a timm EfficientNet: features, then pooling, as two calls
    with torch.enable_grad():
        features = backbone.forward_features(x).detach().requires_grad_(True)
        embedding = extractor.project(backbone.forward_head(features))
        score = _head_logits(model, embedding)[0, target]
        # autograd.grad, not backward(): the shared model's parameters never gather .grad across requests
        (gradient,) = torch.autograd.grad(score, features)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * features.detach()).sum(dim=1, keepdim=True))
    size = (crop.height, crop.width)
    heat = functional.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()
    return _normalised(heat)


def occlusion(model: ExpressionModel, crop: Image.Image, target: int) -> np.ndarray:
    """How much class ``target``'s probability drops when a grey patch hides each part of the crop."""
    pixels = np.asarray(crop.convert("RGB"), dtype=np.float32)
    side = crop.width
    patch, stride = max(1, round(side * OCCLUSION_PATCH)), max(1, round(side * OCCLUSION_STRIDE))
    corners = [(top, left) for top in range(0, side - patch + 1, stride) for left in range(0, side - patch + 1, stride)]
    grey = np.float32(127.5)  # 0 after the extractor's normalisation: the patch adds no signal of its own
    occluded = []
    for top, left in corners:
        copy = pixels.copy()
        copy[top : top + patch, left : left + patch] = grey
        occluded.append(Image.fromarray(copy.astype(np.uint8)))
    base = class_probabilities(model, [crop])[0, target]
    drops = base - class_probabilities(model, occluded)[:, target]
    heat = np.zeros((side, side), dtype=np.float64)
    hits = np.zeros((side, side), dtype=np.float64)
    for (top, left), drop in zip(corners, drops, strict=True):
        heat[top : top + patch, left : left + patch] += max(float(drop), 0.0)
        hits[top : top + patch, left : left + patch] += 1
    # Smoothed over one stride: the patches' grid is an artefact of the method, not of the face.
    return _normalised(gaussian_filter(heat / np.maximum(hits, 1), sigma=stride / 2))


def _normalised(heat: np.ndarray) -> np.ndarray:
    heat = np.asarray(heat, dtype=np.float32)
    low, high = float(heat.min()), float(heat.max())
    return (heat - low) / (high - low) if high > low else np.zeros_like(heat)


def faithfulness_curve(
    model: ExpressionModel, crop: Image.Image, heatmap: np.ndarray, target: int, *, insertion: bool = False
) -> np.ndarray:
    """Probability of ``target`` as the most salient pixels are blurred out (or, inserting, put back) step by step."""
    sharp = np.asarray(crop.convert("RGB"), dtype=np.float32)
    blurred = np.asarray(crop.convert("RGB").filter(ImageFilter.GaussianBlur(crop.width / 10)), dtype=np.float32)
    start, end = (blurred, sharp) if insertion else (sharp, blurred)
    order = np.argsort(-heatmap.reshape(-1), kind="stable")
    frames = []
    for step in range(CURVE_STEPS + 1):
        mask = np.zeros(order.size, dtype=bool)
        mask[order[: round(order.size * step / CURVE_STEPS)]] = True
        mixed = np.where(mask.reshape(heatmap.shape)[..., None], end, start)
        frames.append(Image.fromarray(mixed.astype(np.uint8)))
    return class_probabilities(model, frames)[:, target]


def curve_auc(curve: np.ndarray) -> float:
    """Area under a deletion (lower: more faithful) or insertion (higher: more faithful) curve, x from 0 to 1."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def overlay(saliency: Saliency, *, alpha: float = 0.45) -> Image.Image:
    """The crop with the heat map over it (transparent blue → red), and a strip naming what it explains."""
    crop = saliency.crop.convert("RGB")
    heat = saliency.heatmap[..., None]
    cold, hot = np.array([40, 80, 220], dtype=np.float32), np.array([230, 30, 20], dtype=np.float32)
    colours = cold + heat * (hot - cold)
    weight = alpha * np.clip(heat * 1.5, 0.0, 1.0)
    mixed = (1 - weight) * np.asarray(crop, dtype=np.float32) + weight * colours
    picture = Image.fromarray(mixed.clip(0, 255).astype(np.uint8))
    if picture.width < OVERLAY_SIDE:
        picture = picture.resize((OVERLAY_SIDE, OVERLAY_SIDE), Image.Resampling.BILINEAR)
    framed = Image.new("RGB", (picture.width, picture.height + CAPTION_HEIGHT), "white")
    framed.paste(picture, (0, 0))
    caption = f"{saliency.label} {round(100 * saliency.probability)}%"
    font = ImageFont.load_default(size=CAPTION_HEIGHT - 10)
    ImageDraw.Draw(framed).text((6, picture.height + 4), caption, fill=(31, 41, 51), font=font)
    return framed


def overlay_png(saliency: Saliency) -> bytes:
    """``overlay`` encoded as PNG."""
    buffer = io.BytesIO()
    overlay(saliency).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
