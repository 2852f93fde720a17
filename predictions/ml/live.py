"""The live model held per process, swapped by one reference assignment when the live alias moves.

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
from collections.abc import Callable

from django.conf import settings

from common.oncely import OncePer
from mlcore import runtime
from mlcore.model import ExpressionModel
from mlcore.registry import ArtifactRefused, Registry, RegistryUnavailable
from predictions.ml import ModelUnavailable

logger = logging.getLogger(__name__)

# While loading fails, the next try waits twice as long each time, up to this; one warning per this many seconds.
RETRY_MAX_SECONDS = 60.0
UNAVAILABLE = "The model cannot be loaded right now (MLflow is unreachable or refused its files); try again shortly."


class LiveModel:
    def __init__(self, registry: Callable[[], Registry]) -> None:
        self._registry = registry
        self._model: ExpressionModel | None = None
        self._staged: ExpressionModel | None = None  # a version made in this process, not live yet
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

    @property
    def staged(self) -> ExpressionModel | None:
        return self._staged

    def stage(self, model: ExpressionModel) -> None:
        """Keep a version this process just made, so that making it live needs no reload from MLflow."""
        self._staged = model

    def swap_to(self, version: str) -> ExpressionModel:
        """Serve ``version`` from now on (staged, or loaded and checked); if it cannot be loaded, nothing changes."""
        with self._load_lock:
            staged = self._staged
            if staged is not None and staged.version == version:
                self._serve(staged)
                return staged
            return self._load(version)

    def _check_every(self) -> float:
        poll = settings.INFANTINO_MODEL_POLL_SECONDS
        if not self._failures:
            return poll
        return min(RETRY_MAX_SECONDS, max(poll, 1.0) * 2 ** (self._failures - 1))

    def _refresh(self) -> ExpressionModel | None:
        with self._load_lock:
            recently = time.monotonic() - self._checked_at <= self._check_every()
            if recently and self._model is not None:
                return self._model  # another thread refreshed while this one waited
            if recently and self._failures:
                raise ModelUnavailable(UNAVAILABLE)  # known to fail: do not make every request wait on MLflow
            try:
                live = self._registry().live_version()
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
        use_threads(settings.INFANTINO_TORCH_THREADS)
        started = time.monotonic()
        model = self._registry().load(version)
        self._serve(model)
        logger.info("serving model version %s (loaded in %.2f s)", version, time.monotonic() - started)
        return model

    def _serve(self, model: ExpressionModel) -> None:
        self._model = model  # one reference assignment: the atomic swap
        self._checked_at, self._failures = time.monotonic(), 0


def use_threads(threads: int) -> None:
    """This process's threads for every runtime (``mlcore.runtime``): the server's setting, or a command's own."""
    runtime.configure(threads)
