"""The one seam between Django and ``mlcore``: the registry, and the live model held per process.

Each process loads the live model once and swaps the reference when the live alias moves (noticed
by polling at most every ``INFANTINO_MODEL_POLL_SECONDS`` or told at once through ``swap_to``). A
request keeps the model object it started with, so a swap never disturbs one in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from PIL import Image

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel, Prediction
    from mlcore.registry import Registry

logger = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No model has been trained and made live yet."""


@dataclass(frozen=True)
class Outcome:
    prediction: Prediction
    embedding: np.ndarray
    extractor_id: str


def registry() -> Registry:
    from mlcore.registry import registry_for

    return registry_for(settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS,
                        settings.INFANTINO_MODEL_NAME)


class LiveModel:
    def __init__(self) -> None:
        self._model: ExpressionModel | None = None
        self._checked_at = 0.0
        self._load_lock = threading.Lock()

    def current(self) -> ExpressionModel:
        """The live model; raises ``ModelUnavailable`` when there is none."""
        model = self._model
        if model is None or time.monotonic() - self._checked_at > settings.INFANTINO_MODEL_POLL_SECONDS:
            model = self._refresh()
        if model is None:
            raise ModelUnavailable("No model is trained yet: run `python manage.py bootstrap_model`.")
        return model

    def swap_to(self, version: str) -> ExpressionModel:
        """Load ``version`` and serve it from now on."""
        with self._load_lock:
            return self._load(version)

    def reset(self) -> None:
        with self._load_lock:
            self._model = None
            self._checked_at = 0.0

    def _refresh(self) -> ExpressionModel | None:
        with self._load_lock:
            if self._model is not None and time.monotonic() - self._checked_at <= settings.INFANTINO_MODEL_POLL_SECONDS:
                return self._model  # another thread refreshed while this one waited
            live = registry().live_version()
            self._checked_at = time.monotonic()
            if live is None:
                self._model = None
            elif self._model is None or self._model.version != live:
                self._load(live)
            return self._model

    def _load(self, version: str) -> ExpressionModel:
        import torch

        torch.set_num_threads(settings.INFANTINO_TORCH_THREADS)
        started = time.monotonic()
        model = registry().load(version)
        self._model = model  # one reference assignment: the atomic swap
        self._checked_at = time.monotonic()
        logger.info("serving model version %s (loaded in %.2f s)", version, self._checked_at - started)
        return model


live_model = LiveModel()


def predict(image: Image.Image) -> Outcome:
    """Crop the face, embed it and classify it with the live model."""
    model = live_model.current()
    face = model.crop(image)
    embedding = model.embed([face.image])
    return Outcome(
        prediction=model.predict_embedding(embedding, face.box),
        embedding=embedding[0],
        extractor_id=model.extractor_id,
    )


def warm_up_in_background() -> None:
    """Load the live model in a thread when a server starts (``INFANTINO_WARM_START``)."""
    if settings.INFANTINO_WARM_START:
        threading.Thread(target=_warm_up, name="infantino-warm-up", daemon=True).start()


def _warm_up() -> None:
    try:
        live_model.current()
    except ModelUnavailable:
        logger.info("no live model yet; predictions will say so until one is trained")
    except Exception:
        logger.exception("could not load the live model at start-up")


def live_version() -> str | None:
    return registry().live_version()
