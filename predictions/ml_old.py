"""The one seam between Django and ``mlcore``: the registry, and the live model held per process.

Each process loads the live model once and swaps the reference when the live alias moves (noticed
by polling at most every ``INFANTINO_MODEL_POLL_SECONDS`` or told at once through ``swap_to``). A
request keeps the model object it started with, so a swap never disturbs one in flight.

While MLflow cannot be reached, or a new version's artifacts are refused, the process keeps serving
the model it has and asks again later (less often the longer it lasts); only a process with no model
in memory answers that no model is available.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db.models.fields.files import FieldFile
from PIL import Image

from infantino_site.api_errors import ServiceUnavailable
from infantino_site.oncely import OncePer
from mlcore.labels import LABELS

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel, Prediction
    from mlcore.registry import Registry

logger = logging.getLogger(__name__)

# While loading fails, the next try waits twice as long each time, up to this; one warning per this many seconds.
RETRY_MAX_SECONDS = 60.0
UNAVAILABLE = "The model cannot be loaded right now (MLflow is unreachable or refused its files); try again shortly."


class ModelUnavailable(ServiceUnavailable):
    """No model can be served: none is trained yet, or MLflow cannot be reached and none is in memory."""


@dataclass(frozen=True)
class Outcome:
    prediction: Prediction
    embedding: np.ndarray
    extractor_id: str


def registry() -> Registry:
    from mlcore.registry import registry_for

    return registry_for(
        settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS, settings.INFANTINO_MODEL_NAME
    )


class LiveModel:
    def __init__(self) -> None:
        self._model: ExpressionModel | None = None
        self._checked_at = 0.0
        self._load_lock = threading.Lock()
        self._failures = 0
        self._warnings = OncePer(RETRY_MAX_SECONDS)

    def current(self) -> ExpressionModel:
        """The live model; raises ``ModelUnavailable`` when there is none."""
        model = self._model
        if model is None or time.monotonic() - self._checked_at > self._check_every():
            model = self._refresh()
        if model is None:
            raise ModelUnavailable("No model is trained yet: run `python manage.py bootstrap_model`.")
        return model

    @property
    def serving(self) -> ExpressionModel | None:
        """The model in memory, without asking MLflow."""
        return self._model

    def swap_to(self, version: str) -> ExpressionModel:
        """Load ``version`` and serve it from now on; if it cannot be loaded, the model served stays."""
        with self._load_lock:
            return self._load(version)

    def install(self, model: ExpressionModel) -> None:
        """Serve ``model``, already in memory (the writer's new head), without reloading it from MLflow."""
        with self._load_lock:
            self._model = model
            self._checked_at, self._failures = time.monotonic(), 0

    def reset(self) -> None:
        with self._load_lock:
            self._model = None
            self._checked_at = 0.0
            self._failures = 0
            self._warnings.forget()

    def _check_every(self) -> float:
        poll = settings.INFANTINO_MODEL_POLL_SECONDS
        if not self._failures:
            return poll
        return min(RETRY_MAX_SECONDS, max(poll, 1.0) * 2 ** (self._failures - 1))

    def _refresh(self) -> ExpressionModel | None:
        from mlcore.registry import ArtifactRefused, RegistryUnavailable

        with self._load_lock:
            recently = time.monotonic() - self._checked_at <= self._check_every()
            if recently and self._model is not None:
                return self._model  # another thread refreshed while this one waited
            if recently and self._failures:
                raise ModelUnavailable(UNAVAILABLE)  # known to fail: do not make every request wait on MLflow
            try:
                live = registry().live_version()
                if live is None:
                    self._model = None
                elif self._model is None or self._model.version != live:
                    self._load(live)
            except (RegistryUnavailable, ArtifactRefused) as error:
                self._failed(error)
                if self._model is None:
                    raise ModelUnavailable(UNAVAILABLE) from error
            else:
                self._failures = 0
            self._checked_at = time.monotonic()
            return self._model

    def _failed(self, error: Exception) -> None:
        """Count a failed check and warn about it, at most once a minute: every request may hit it."""
        self._failures += 1
        self._checked_at = time.monotonic()
        if self._warnings.due():
            serving = self._model.version if self._model is not None else None
            logger.warning(
                "could not check or load the live model (%s); %s; next try in %.0f s",
                error,
                f"still serving version {serving}" if serving else "no model to serve",
                self._check_every(),
            )

    def _load(self, version: str) -> ExpressionModel:
        import torch

        torch.set_num_threads(settings.INFANTINO_TORCH_THREADS)
        started = time.monotonic()
        model = registry().load(version)
        self._model = model  # one reference assignment: the atomic swap
        self._checked_at, self._failures = time.monotonic(), 0
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
    """The live version; while MLflow is unreachable, the version this process serves (if any)."""
    from mlcore.registry import RegistryUnavailable

    try:
        return registry().live_version()
    except RegistryUnavailable as error:
        serving = live_model.serving
        if serving is None:
            raise ModelUnavailable("The model registry cannot be reached right now; try again shortly.") from error
        return serving.version


# ---- full retrains ----------------------------------------------------------------------------------
class TrainingCancelled(Exception):
    """A retrain stopped because someone cancelled it."""


@dataclass(frozen=True)
class RetrainOutcome:
    version: str
    live_before: str | None


@dataclass(frozen=True)
class GuardVerdict:
    passed: bool
    reason: str


def retrain(
    *, options: dict, work_dir: Path, labeled: list[tuple[FieldFile, str]], progress, should_stop
) -> RetrainOutcome:  # type: ignore[no-untyped-def]
    """Run the learning engine's full training on this deployment's data and labels; registers, never promotes."""
    from mlcore import training

    live_before = live_version()
    config = training_config(options, work_dir=work_dir, labeled=labeled)
    try:
        result = training.train(config, registry(), progress=progress, should_stop=should_stop)
    except training.TrainingCancelled:
        raise TrainingCancelled from None
    return RetrainOutcome(version=result.version, live_before=live_before)


def training_config(options: dict, *, work_dir: Path, labeled: list[tuple[FieldFile, str]]):  # type: ignore[no-untyped-def]
    """The training configuration of a retrain started from the dashboard ("full" or "tiny" preset)."""
    from mlcore.training import TrainConfig

    data_dir = Path(options.get("data_dir") or settings.INFANTINO_DATA_DIR or "")
    fer_dir = data_dir / "fer2013"
    fer = next(iter(sorted(fer_dir.glob("*.csv*"))), None) if fer_dir.is_dir() else None
    images = training_images(data_dir / "infant", labeled, work_dir / "images")
    common = {
        "fer_csv": fer,
        "image_dir": images,
        "work_dir": work_dir,
        "promote": False,
        "cache_dir": settings.VAR_DIR / "training" / "cache",
        "tags": {"started_from": "dashboard", "user_labels": str(len(labeled))},
    }
    if options.get("preset") == "tiny":
        return TrainConfig.tiny(**common)
    return TrainConfig(**common)


def training_images(dataset: Path, labeled: list[tuple[FieldFile, str]], target: Path) -> Path:
    """One folder per label holding the infant dataset (linked, not copied) and the images users labeled."""
    if not dataset.is_dir() and not labeled:
        raise FileNotFoundError(f"no infant images to train on: {dataset} is missing and nobody has labeled any")
    for label in LABELS:
        (target / label).mkdir(parents=True, exist_ok=True)
    if dataset.is_dir():
        for folder in (dataset / label for label in LABELS):
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                link = target / folder.name / f"dataset-{path.name}"
                if not link.exists():
                    link.symlink_to(path.resolve())
    for image, label in labeled:
        path = target / label / f"labeled-{Path(image.name).name}"
        if not path.exists():
            with image.open("rb") as source:
                path.write_bytes(source.read())
    return target


def guard_verdict(*, candidate: str, live: str | None) -> GuardVerdict:
    """A retrained version goes live by itself only if it is at least as good on infants and forgets nothing."""
    from mlcore.learner import guard_verdict as forgetting_guard

    if live is None:
        return GuardVerdict(True, "no model was live")
    new, old = registry().version_info(candidate).metrics, registry().version_info(live).metrics
    passed, reasons = forgetting_guard(new, old, tolerance=settings.INFANTINO_FORGETTING_TOLERANCE)
    if not passed:
        return GuardVerdict(False, "; ".join(reasons))
    new_acc, old_acc = new.get("infant_accuracy"), old.get("infant_accuracy")
    if new_acc is None or old_acc is None:
        return GuardVerdict(False, "infant accuracy is missing on one of the versions")
    if new_acc < old_acc:
        return GuardVerdict(False, f"infant accuracy {new_acc:.3f} is below the live version's {old_acc:.3f}")
    return GuardVerdict(True, f"infant accuracy {new_acc:.3f} ≥ {old_acc:.3f} and no domain fell beyond tolerance")
