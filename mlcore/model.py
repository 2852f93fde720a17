"""A servable model version: face crop → extractor embedding → MLP head → a ``Prediction``."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from sklearn.neural_network import MLPClassifier

from mlcore.extractor import Extractor
from mlcore.faces import Box, FaceCrop, crop_face, make_detector
from mlcore.graph import ExtractorGraph
from mlcore.labels import LABELS, UNSURE
from mlcore.online import head_probabilities
from mlcore.pipeline import chunked
from mlcore.preprocess import batch
from mlcore.uncertainty import normalised_entropy

EMBED_BATCH = 32  # faces per extractor call: larger batches run no faster on two cores and hold more memory


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
        graph: ExtractorGraph | None = None,
    ) -> None:
        self.extractor = extractor.eval()
        self.graph = graph  # the extractor's ONNX graph, checked at registration; None: PyTorch embeds
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

    @property
    def runtime(self) -> str:
        """What embeds faces for this model: ``onnxruntime`` or ``pytorch``."""
        return "pytorch" if self.graph is None else "onnxruntime"

    def embed(self, faces: Sequence[Image.Image]) -> np.ndarray:
        """Embeddings (n × 64, float32) of already-cropped faces, ``EMBED_BATCH`` at a time."""
        starts = range(0, len(faces), EMBED_BATCH)
        chunks = [self.embed_tensors(self.tensors(faces[i : i + EMBED_BATCH])) for i in starts]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.config.embedding_dim), dtype=np.float32)

    def tensors(self, faces: Sequence[Image.Image]) -> torch.Tensor:
        """Faces as the extractor's normalised input."""
        return batch(faces, size=self.config.image_size, mean=self.config.mean, std=self.config.std)

    def embed_tensors(self, tensors: torch.Tensor) -> np.ndarray:
        """Embeddings of normalised faces, through the graph when the version has one (thread-safe), else PyTorch."""
        if self.graph is not None:
            return self.graph.embed(tensors.numpy())
        with self._torch_lock, torch.inference_mode():
            return self.extractor.embed(tensors).numpy().astype(np.float32)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return head_probabilities(self.head, embeddings, temperature=self.temperature)

    def predict_embedding(self, embedding: np.ndarray, face_box: Box | None) -> Prediction:
        return self.predict_embeddings(embedding, [face_box])[0]

    def predict_embeddings(self, embeddings: np.ndarray, face_boxes: Sequence[Box | None]) -> list[Prediction]:
        """The head on every embedding at once, one ``Prediction`` per row."""
        probabilities = self.probabilities(embeddings)
        uncertainties = normalised_entropy(probabilities)
        predictions = []
        for row, uncertainty, face_box in zip(probabilities, uncertainties, face_boxes, strict=True):
            top = LABELS[int(np.argmax(row))]
            predictions.append(
                Prediction(
                    label=UNSURE if uncertainty > self.abstain_threshold else top,
                    top_label=top,
                    probabilities={name: float(p) for name, p in zip(LABELS, row, strict=True)},
                    uncertainty=float(uncertainty),
                    model_version=self.version,
                    face_box=face_box,
                )
            )
        return predictions

    def predict(self, image: Image.Image) -> Prediction:
        face = self.crop(image)
        return self.predict_embedding(self.embed([face.image]), face.box)

    def predict_many(self, images: Iterable[Image.Image]) -> Iterator[tuple[Prediction, np.ndarray]]:
        """``predict`` for many photos, each with its embedding: faces found one photo at a time (no detector here
        takes photos of different sizes in one call), then embedded and classified ``EMBED_BATCH`` at a time."""
        for chunk in chunked(images, EMBED_BATCH):
            faces = [self.crop(image) for image in chunk]
            embeddings = self.embed([face.image for face in faces])
            yield from zip(self.predict_embeddings(embeddings, [face.box for face in faces]), embeddings, strict=True)

    def with_head(self, head: MLPClassifier, *, version: str) -> ExpressionModel:
        """The same extractor under a new head, as an online update produces."""
        return ExpressionModel(
            extractor=self.extractor,
            head=head,
            version=version,
            extractor_id=self.extractor_id,
            temperature=self.temperature,
            abstain_threshold=self.abstain_threshold,
            graph=self.graph,
        )
