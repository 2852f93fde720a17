"""The MLflow client of one store: process-wide limits and timeouts, SQLite in WAL mode, experiment and model."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
from contextlib import closing

from mlflow import MlflowClient, set_registry_uri, set_tracking_uri
from mlflow.exceptions import MlflowException
from mlflow.telemetry import set_telemetry_client

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "infantino-expressions"
EXPERIMENT = "infantino"
TELEMETRY = "MLFLOW_DISABLE_TELEMETRY"
MLFLOW_DEFAULTS = {
    TELEMETRY: "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # MLflow's client retries a refused connection 7 times with backoff (minutes), holding the single writer all
    # that time; a down server should cost seconds, and the job's own retry with backoff does the waiting.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",  # long enough to upload an extractor (~14 MB)
}


@functools.cache
def configure_mlflow() -> None:
    """This process's MLflow defaults, set once when the first store is opened; a variable already set wins."""
    telemetry_was_set = TELEMETRY in os.environ
    for name, value in MLFLOW_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not telemetry_was_set:
        set_telemetry_client()  # importing mlflow set one up before the variable said no: drop it


class Store:
    """The tracking and registry store of one registered model, and the lock its writes take."""

    def __init__(self, tracking_uri: str, *, artifact_root: str | None, model_name: str) -> None:
        configure_mlflow()
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.model_name = model_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.write_lock = threading.Lock()
        self._model_exists = False

    def activate(self) -> None:
        """MLflow's fluent API and ``models:/`` URIs read the process-wide store; point it here."""
        set_tracking_uri(self.tracking_uri)
        set_registry_uri(self.tracking_uri)

    def ensure_registered_model(self) -> None:
        if self._model_exists:
            return
        try:
            self.client.create_registered_model(self.model_name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        self._model_exists = True
        self._use_wal()

    def _use_wal(self) -> None:
        """An SQLite store in WAL mode syncs once per commit: registering a version gets ~200 ms faster."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return
        try:
            with closing(sqlite3.connect(self.tracking_uri.removeprefix("sqlite:///"), timeout=5)) as store:
                store.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the database file
        except sqlite3.Error:
            logger.warning("could not switch the MLflow store to WAL; registering will be slower", exc_info=True)

    def experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(EXPERIMENT, artifact_location=self.artifact_root)
        except MlflowException:  # created meanwhile by another process
            created = self.client.get_experiment_by_name(EXPERIMENT)
            if created is None:
                raise
            return created.experiment_id
