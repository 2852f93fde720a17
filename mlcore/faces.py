"""Face detection and cropping; falls back to the whole image when no face is found."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, width, height in the original image's pixels


@dataclass(frozen=True)
class FaceCrop:
    image: Image.Image
    box: Box | None  # None: no face found, ``image`` is the whole picture

    @property
    def found(self) -> bool:
        return self.box is not None


class FaceDetector(Protocol):
    name: str

    def detect(self, image: Image.Image) -> list[Box]:
        """Face boxes, most confident first."""
        ...


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade, run on a downscaled grey copy."""

    name = "haar"

    def __init__(self, max_side: int = 640) -> None:
        self.max_side = max_side

    def detect(self, image: Image.Image) -> list[Box]:
        scale = min(1.0, self.max_side / max(image.size))
        small = (
            image
            if scale == 1.0
            else image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        )
        with _haar_cascade() as cascade:  # first, so that cv2 is imported under its lock
            import cv2

            grey = cv2.equalizeHist(np.asarray(small.convert("L")))
            min_side = max(24, int(min(grey.shape) * 0.12))
            found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        boxes = sorted((tuple(int(v) for v in box) for box in found), key=lambda b: -b[2] * b[3])
        return [_rescale(box, 1.0 / scale) for box in boxes]


class NoFaceDetector:
    """Uses the whole image; for ablations and for pre-cropped data such as FER2013."""

    name = "none"

    def detect(self, image: Image.Image) -> list[Box]:
        return []


# A CascadeClassifier used by two threads at once fails or crashes the process, and under ASGI every request
# runs in a thread of its own: cascades are lent from a pool, one per concurrent call, and made only when it is empty.
_haar_pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
_haar_import_lock = threading.Lock()


@contextmanager
def _haar_cascade() -> Iterator[Any]:
    """Lend one of the pool's cascades for the length of the block."""
    try:
        cascade = _haar_pool.get_nowait()
    except queue.Empty:
        cascade = _new_haar_cascade()
    try:
        yield cascade
    finally:
        _haar_pool.put(cascade)


def _new_haar_cascade() -> Any:
    with _haar_import_lock:  # cv2's first import, racing in two threads, hands one of them a half-made module
        import cv2

        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    if cascade.empty():
        raise RuntimeError("OpenCV's Haar cascade file is missing; install opencv-python-headless<5")
    return cascade


def _rescale(box: tuple[int, ...], factor: float) -> Box:
    x, y, w, h = box
    return (round(x * factor), round(y * factor), round(w * factor), round(h * factor))


def crop_face(image: Image.Image, detector: FaceDetector, *, margin: float = 0.25) -> FaceCrop:
    """Crop the largest face with ``margin`` (a fraction of the box side) around it, squared."""
    boxes = detector.detect(image)
    if not boxes:
        return FaceCrop(image=image, box=None)
    x, y, w, h = boxes[0]
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    left = max(0, round(cx - side / 2))
    top = max(0, round(cy - side / 2))
    right = min(image.width, round(cx + side / 2))
    bottom = min(image.height, round(cy + side / 2))
    return FaceCrop(image=image.crop((left, top, right, bottom)), box=(x, y, w, h))


DETECTORS = ("mtcnn", "haar", "none")


def make_detector(name: str) -> FaceDetector:
    """Detector by name as stored with a model version; MTCNN without its weights falls back to Haar, loudly."""
    if name == "mtcnn":
        from mlcore.mtcnn import MTCNNFaceDetector  # loads torch and torchvision: only when MTCNN is asked for

        try:
            return MTCNNFaceDetector()
        except FileNotFoundError as error:
            logger.warning("%s; falling back to the Haar cascade, which finds fewer infant faces", error)
            return HaarFaceDetector()
    detectors: dict[str, type] = {"haar": HaarFaceDetector, "none": NoFaceDetector}
    try:
        return detectors[name]()
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}") from None
