"""MTCNN face detection (PNet → RNet → ONet cascade), with the weights that ship in facenet-pytorch's wheel.

facenet-pytorch itself pins old numpy/torch, so it is never installed: its wheel is only downloaded
and its three small weight files (~2 MB, MIT-licensed) are unpacked into a cache folder. The network
layouts below match those files key for key. On infant photos MTCNN finds far more faces than
OpenCV's Haar cascade (see ``bench/faces.py``).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn.functional import interpolate
from torchvision.ops import batched_nms

logger = logging.getLogger(__name__)

WHEEL = "facenet-pytorch==2.6.0"
NETS = ("pnet", "rnet", "onet")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "var" / "cache" / "mtcnn"


def weights_dir() -> Path:
    """Where the weights live: ``INFANTINO_MTCNN_DIR`` or ``var/cache/mtcnn`` in the project."""
    return Path(os.environ.get("INFANTINO_MTCNN_DIR") or DEFAULT_DIR)


def weights_present(directory: Path | None = None) -> bool:
    directory = directory or weights_dir()
    return all((directory / f"{net}.pt").is_file() for net in NETS)


def fetch_weights(directory: Path | None = None) -> Path:
    """Download facenet-pytorch's wheel (no dependencies, nothing installed) and unpack its MTCNN weights."""
    directory = directory or weights_dir()
    if weights_present(directory):
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--quiet", "-d", tmp],
            check=True,
            stdout=sys.stderr,
        )
        wheel = next(Path(tmp).glob("facenet_pytorch-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for net in NETS:
                (directory / f"{net}.pt").write_bytes(archive.read(f"facenet_pytorch/data/{net}.pt"))
    logger.info("MTCNN weights unpacked into %s", directory)
    return directory


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The original Caffe weights flatten in (w, h, c) order.
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)  # five landmarks (x then y, as shares of the box): eyes, nose, mouth

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense6_2(x), torch.softmax(self.dense6_1(x), dim=1), self.dense6_3(x)


@functools.cache
def _nets(directory: str) -> tuple[PNet, RNet, ONet]:
    nets = (PNet(), RNet(), ONet())
    for net, name in zip(nets, NETS, strict=True):
        net.load_state_dict(torch.load(Path(directory) / f"{name}.pt", map_location="cpu", weights_only=True))
        net.eval()
    return nets


class MTCNNFaceDetector:
    """The three-stage MTCNN cascade on a downscaled copy; boxes come back largest first."""

    name = "mtcnn"

    def __init__(
        self,
        directory: Path | None = None,
        *,
        max_side: int = 640,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
    ) -> None:
        directory = directory or weights_dir()
        if not weights_present(directory):
            raise FileNotFoundError(f"MTCNN weights not found in {directory}; run `make mtcnn-weights`")
        self.directory = directory
        self.max_side = max_side
        self.thresholds = thresholds
        self.factor = factor

    def detect(self, image: Image.Image) -> list[tuple[int, int, int, int]]:
        return [box for box, _ in self.detect_landmarks(image)]

    def detect_landmarks(self, image: Image.Image) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Face boxes, largest first, each with its five landmarks (5 × 2: x, y in the image's pixels)."""
        scale = min(1.0, self.max_side / max(image.size))
        small = image.convert("RGB")
        if scale < 1.0:
            small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        with torch.inference_mode():
            rows = self._cascade(torch.from_numpy(np.asarray(small, dtype=np.float32)).permute(2, 0, 1)[None])
        found = []
        for x1, y1, x2, y2, *marks in rows:
            w, h = (x2 - x1) / scale, (y2 - y1) / scale
            if w >= 4 and h >= 4:
                box = (round(max(0.0, x1 / scale)), round(max(0.0, y1 / scale)), round(w), round(h))
                found.append((box, np.array(marks, dtype=np.float32).reshape(2, 5).T / scale))
        return sorted(found, key=lambda found: -found[0][2] * found[0][3])

    def _cascade(self, img: torch.Tensor) -> np.ndarray:
        pnet, rnet, onet = _nets(str(self.directory))
        _, _, h, w = img.shape
        # Faces smaller than a tenth of the picture are not what a user uploads; skipping them saves scales.
        min_size = max(20.0, 0.1 * min(h, w))
        m = 12.0 / min_size
        scales: list[float] = []
        side = min(h, w) * m
        while side >= 12:
            scales.append(m * self.factor ** len(scales))
            side *= self.factor
        candidates = []
        for s in scales:
            data = (interpolate(img, size=(int(h * s + 1), int(w * s + 1)), mode="area") - 127.5) * 0.0078125
            reg, prob = pnet(data)
            found = _proposals(reg[0], prob[0, 1], s, self.thresholds[0])
            if len(found):
                keep = batched_nms(found[:, :4], found[:, 4], torch.zeros(len(found), dtype=torch.long), 0.5)
                candidates.append(found[keep])
        if not candidates:
            return np.zeros((0, 14))
        boxes = torch.cat(candidates)
        boxes = boxes[_nms(boxes, 0.7)]
        boxes = _square(_regress(boxes[:, :5], boxes[:, 5:9]))
        for net, size, threshold in ((rnet, 24, self.thresholds[1]), (onet, 48, self.thresholds[2])):
            if not len(boxes):
                return np.zeros((0, 14))
            patches = torch.cat([_patch(img, box, size, w, h) for box in boxes])
            reg, prob, *marks = net((patches - 127.5) * 0.0078125)
            keep = prob[:, 1] > threshold
            boxes = torch.cat([boxes[keep, :4], prob[keep, 1:2]], dim=1)
            reg = reg[keep]
            if net is rnet:
                order = _nms(boxes, 0.7)
                boxes = _square(_regress(boxes[order], reg[order]))
            else:  # landmarks are shares of the box ONet saw, before its regression
                side = (boxes[:, 2:4] - boxes[:, 0:2] + 1).repeat_interleave(5, dim=1)
                points = boxes[:, [0] * 5 + [1] * 5] + side * marks[0][keep]
                boxes = torch.cat([_regress(boxes, reg), points], dim=1)
                boxes = boxes[_nms(boxes, 0.7, minimum=True)]
        return torch.cat([boxes[:, :4], boxes[:, 5:]], dim=1).numpy()  # box, then 5 x and 5 y landmark coordinates


def _proposals(reg: torch.Tensor, prob: torch.Tensor, scale: float, threshold: float) -> torch.Tensor:
    """PNet's 12×12 windows (stride 2) whose face score passes ``threshold``, in image pixels."""
    ys, xs = torch.nonzero(prob >= threshold, as_tuple=True)
    if not len(ys):
        return torch.zeros((0, 9))
    origin = torch.stack([xs, ys], dim=1).float()
    q1 = ((2 * origin + 1) / scale).floor()
    q2 = ((2 * origin + 12) / scale).floor()
    return torch.cat([q1, q2, prob[ys, xs][:, None], reg[:, ys, xs].T], dim=1)


def _nms(boxes: torch.Tensor, threshold: float, *, minimum: bool = False) -> torch.Tensor:
    if not minimum:
        return batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes), dtype=torch.long), threshold)
    # ONet's last pass divides the overlap by the smaller box, which drops boxes nested in a face.
    order = torch.argsort(boxes[:, 4], descending=True)
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    keep: list[int] = []
    while len(order):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + 1).clamp(min=0)
        ih = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest]) + 1).clamp(min=0)
        overlap = iw * ih / torch.minimum(area[i], area[rest])
        order = rest[overlap <= threshold]
    return torch.tensor(keep, dtype=torch.long)


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def _square(boxes: torch.Tensor) -> torch.Tensor:
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _patch(img: torch.Tensor, box: torch.Tensor, size: int, w: int, h: int) -> torch.Tensor:
    """The box's pixels (zero outside the image), resampled to ``size``×``size``."""
    x1, y1, x2, y2 = (int(v) for v in box[:4].trunc())
    bw, bh = max(1, x2 - x1 + 1), max(1, y2 - y1 + 1)
    canvas = torch.zeros((1, 3, bh, bw))
    sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(w, x2 + 1), min(h, y2 + 1)
    if sx2 > sx1 and sy2 > sy1:
        canvas[:, :, sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = img[:, :, sy1:sy2, sx1:sx2]
    return interpolate(canvas, size=(size, size), mode="area")


if __name__ == "__main__":
    # `python -m mlcore.mtcnn`: fetch the weights (the Makefile's `mtcnn-weights` target).
    logging.basicConfig(level=logging.INFO)
    print(fetch_weights())
