"""A servable model version: face crop → extractor embedding → MLP head → a ``Prediction``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from sklearn.neural_network import MLPClassifier

from mlcore.extractor import Extractor
from mlcore.faces import Box, FaceCrop, crop_face, make_detector
from mlcore.labels import LABELS, UNSURE
from mlcore.online import head_probabilities
from mlcore.preprocess import batch
from mlcore.uncertainty import normalised_entropy


@dataclass(frozen=True)
class Prediction:
    label: str  # the expression, or "unsure" when the uncertainty crosses the model's threshold
    top_label: str  # the most probable expression, even when unsure
    probabilities: dict[str, float]
    uncertainty: float  # normalised entropy of the calibrated probabilities, 0..1
    model_version: str
    face_box: Box | None

    @property
    def unsure(self) -> bool:
        return self.label == UNSURE


class ExpressionModel:
    """One registered version: a shared extractor and its own head, calibration and threshold."""

    def __init__(
        self,
        *,
        extractor: Extractor,
        head: MLPClassifier,
        version: str,
        extractor_id: str,
        temperature: float = 1.0,
        abstain_threshold: float = 1.0,
    ) -> None:
        self.extractor = extractor.eval()
        self.head = head
        self.version = version
        self.extractor_id = extractor_id
        self.temperature = temperature
        self.abstain_threshold = abstain_threshold
        self.detector = make_detector(extractor.config.face_detector)
        self._torch_lock = threading.Lock()

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.extractor.config

    def crop(self, image: Image.Image) -> FaceCrop:
        return crop_face(image, self.detector, margin=self.config.face_margin)

    def embed(self, faces: Sequence[Image.Image]) -> np.ndarray:
        """Embeddings (n × 64, float32) of already-cropped faces."""
        tensors = batch(faces, size=self.config.image_size, mean=self.config.mean, std=self.config.std)
        with self._torch_lock, torch.inference_mode():
            return self.extractor.embed(tensors).numpy().astype(np.float32)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return head_probabilities(self.head, embeddings, temperature=self.temperature)

    def predict_embedding(self, embedding: np.ndarray, face_box: Box | None) -> Prediction:
        probabilities = self.probabilities(embedding)[0]
        uncertainty = float(normalised_entropy(probabilities)[0])
        top = LABELS[int(np.argmax(probabilities))]
        return Prediction(
            label=UNSURE if uncertainty > self.abstain_threshold else top,
            top_label=top,
            probabilities={name: float(p) for name, p in zip(LABELS, probabilities, strict=True)},
            uncertainty=uncertainty,
            model_version=self.version,
            face_box=face_box,
        )

    def predict(self, image: Image.Image) -> Prediction:
        face = self.crop(image)
        return self.predict_embedding(self.embed([face.image]), face.box)

    def with_head(self, head: MLPClassifier, *, version: str) -> ExpressionModel:
        """The same extractor under a new head, as an online update produces."""
        return ExpressionModel(
            extractor=self.extractor,
            head=head,
            version=version,
            extractor_id=self.extractor_id,
            temperature=self.temperature,
            abstain_threshold=self.abstain_threshold,
        )
