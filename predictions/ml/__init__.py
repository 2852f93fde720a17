"""The one door from Django to ``mlcore``: what the apps may ask of the model, and who answers.

``backend()`` is this process's model backend, the class named by ``INFANTINO_ML_BACKEND``: the
MLflow-backed one (``predictions.ml.mlflow_backend.MLflowBackend``) in every profile, or the in-memory fake
(``tests.fake_backend.FakeBackend``) that tests can use instead. Nothing outside this package imports
``mlcore``; the few pure helpers Django needs (image decoding, the label list) are re-exported here, and the
record a version is read as (``VersionInfo``: typed fields, its kinds in ``Kind`` and ``ONLINE_KINDS``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string
from PIL import Image

from common.api_errors import ServiceUnavailable
from mlcore.datasets import DataFolders, data_folders, image_files
from mlcore.faces import DETECTORS as FACE_DETECTORS
from mlcore.faces import square_crop
from mlcore.imageio import DecodedImage, InvalidImage, decode_image, encode_clean
from mlcore.label_noise import LabelIssue
from mlcore.labels import LABEL_INDEX, LABELS, UNSURE
from mlcore.metrics import ReliabilityBin
from mlcore.progress import ProgressEvent
from mlcore.uncertainty import normalised_entropy
from mlcore.versions import ONLINE_KINDS, DomainScores, Kind, VersionInfo

if TYPE_CHECKING:
    from mlcore.model import Prediction

__all__ = [
    "FACE_DETECTORS",
    "LABELS",
    "LABEL_INDEX",
    "ONLINE_KINDS",
    "UNSURE",
    "Backend",
    "DataFolders",
    "DecodedImage",
    "DomainScores",
    "Embedded",
    "Explanation",
    "FaceBox",
    "FaceChooser",
    "InvalidImage",
    "Kind",
    "LabelIssue",
    "LabelToLearn",
    "LabelsToLearn",
    "Learned",
    "ModelRefused",
    "ModelUnavailable",
    "Outcome",
    "ProgressEvent",
    "ReliabilityBin",
    "Replay",
    "Served",
    "TrainingCancelled",
    "UnknownVersion",
    "VersionInfo",
    "backend",
    "data_folders",
    "decode_image",
    "encode_clean",
    "image_files",
    "normalised_entropy",
    "reset_backend",
    "square_crop",
]

logger = logging.getLogger(__name__)

Progress = Callable[[ProgressEvent], None]
FaceBox = tuple[int, int, int, int]  # x, y, width, height in the image's pixels
# Picks the face to read among every face found in an image (video frames: the infant's, followed frame to frame).
FaceChooser = Callable[[Sequence[FaceBox]], FaceBox | None]


class ModelUnavailable(ServiceUnavailable):
    """No model can be served: none is trained yet, or MLflow cannot be reached and none is in memory."""


class UnknownVersion(LookupError):
    """The registry has no such model version."""


class ModelRefused(RuntimeError):
    """A version's files failed their integrity check; it is never served."""


class TrainingCancelled(Exception):
    """A training stopped because someone cancelled it."""


@dataclass(frozen=True)
class Outcome:
    """A prediction with the embedding it came from, kept so the image is never embedded twice."""

    prediction: Prediction
    embedding: np.ndarray
    extractor_id: str


@dataclass(frozen=True)
class Embedded:
    vector: np.ndarray
    face_box: tuple[int, int, int, int] | None
    extractor_id: str


@dataclass(frozen=True)
class Explanation:
    """Why a model answered as it did on one photo: its face crop under a heat map, as a PNG."""

    png: bytes
    label: str  # the class the map explains: the model's most probable one
    probability: float
    model_version: str
    method: str


class Served(Protocol):
    """The model version a process serves, as the apps see it."""

    version: str
    extractor_id: str

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Learned:
    """A version made online (from the labels of one or more images, or refitted without deleted ones); ``accepted``
    says whether the forgetting guard let it go live, ``took_waiting`` whether the labels it held back before are
    part of it now."""

    version: str
    parent: str
    accepted: bool
    guard: str  # the guard's verdict when accepted, else its reasons
    extractor_id: str
    took_waiting: bool = False


@dataclass(frozen=True)
class Replay:
    """Labeled images as rows for a refit: embeddings under the parent's extractor and their class indices."""

    x: np.ndarray | None = None
    y: np.ndarray | None = None


@dataclass(frozen=True)
class LabelToLearn:
    """One image's decided label, with the annotations that agreed on it."""

    image_id: object
    vector: np.ndarray
    label: str
    annotation_ids: tuple[int, ...]


@dataclass(frozen=True)
class LabelsToLearn:
    """What one online update learns: the images decided since the last one, every label the live line holds
    (``learned``) and those the guard held back before (``waiting``, tried again)."""

    new: tuple[LabelToLearn, ...]
    learned: Replay = field(default_factory=Replay)
    waiting: Replay = field(default_factory=Replay)

    @property
    def annotation_ids(self) -> tuple[int, ...]:
        return tuple(pk for label in self.new for pk in label.annotation_ids)


@dataclass(frozen=True)
class TrainingRun:
    """What a full training needs from Django: where the data is, where to work, how to report."""

    work_dir: Path
    cache_dir: Path
    fer_csv: Path | None
    image_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    progress: Progress | None = None
    should_stop: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Trained:
    version: str
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class GuardVerdict:
    passed: bool
    reason: str


class Backend(Protocol):
    """Everything Django asks of the model: predict, learn a label, read versions, move the live alias."""

    def predict(self, image: Image.Image) -> Outcome: ...
    def predict_many(self, images: Sequence[Image.Image]) -> list[Outcome]: ...
    def predict_faces(self, images: Sequence[Image.Image], *, follow: FaceChooser) -> list[Outcome | None]: ...
    def embed(self, image: Image.Image, *, version: str) -> Embedded: ...
    def explain(self, image: Image.Image) -> Explanation: ...
    def served(self) -> Served: ...
    def extractor_id(self, version: str) -> str: ...
    def live_version(self) -> str | None: ...
    def version_info(self, version: str) -> VersionInfo: ...
    def versions(self) -> list[VersionInfo]: ...
    def version_json(self, version: str, name: str) -> Any | None: ...
    def serve(self, version: str) -> None: ...
    def set_live(self, version: str, *, by: str) -> None: ...
    def learn(self, labels: LabelsToLearn, *, parent: str) -> Learned: ...
    def refit(self, *, parent: str, replay: Replay, reason: str) -> Learned: ...
    def consolidate(self, *, parent: str, labels: Replay, seed: int) -> Learned: ...
    def label_issues(self, *, version: str, labels: Replay, seed: int) -> list[LabelIssue]: ...
    def retrain_verdict(self, *, candidate: str, live: str | None) -> GuardVerdict: ...
    def train(self, run: TrainingRun) -> Trained: ...
    def bootstrap(
        self, *, fer_csv: Path | None, image_dir: Path | None, options: dict[str, Any], progress: Progress
    ) -> Trained: ...
    def evaluate(self, data: Path, *, version: str | None, limit: int | None, progress: Progress) -> dict[str, Any]: ...
    def warm_up(self) -> None: ...
    def face_detector_ready(self, name: str) -> None: ...


_backend: Backend | None = None
_backend_lock = threading.Lock()


def backend() -> Backend:
    """This process's backend, built on first use from ``INFANTINO_ML_BACKEND``."""
    global _backend
    found = _backend  # every request asks: no lock once it is built
    if found is not None:
        return found
    with _backend_lock:
        if _backend is None:
            _backend = import_string(settings.INFANTINO_ML_BACKEND)()
        return _backend


def reset_backend() -> None:
    """Forget the process's backend and everything it holds (tests, and a settings change)."""
    global _backend
    with _backend_lock:
        _backend = None


def labels_to_indices(labels: Sequence[str]) -> np.ndarray:
    return np.array([LABEL_INDEX[label] for label in labels], dtype=np.int64)


def load_in_background() -> None:
    """Load the live model in a thread when a server starts (``INFANTINO_WARM_START``)."""
    if settings.INFANTINO_WARM_START:
        threading.Thread(target=_load_live_model, name="infantino-warm-up", daemon=True).start()


def _load_live_model() -> None:
    try:
        backend().served()
    except ModelUnavailable:
        logger.info("no live model yet; predictions will say so until one is trained")
    except Exception:
        logger.exception("could not load the live model at start-up")
