"""The MLflow model registry: one registered model, a version per head, alias ``champion`` = live.

``Registry`` is its one face. Behind it: ``client`` opens the store, ``writes`` adds runs and versions,
``reads`` reads versions and loads their artifacts, ``integrity`` checks every artifact file against the
checksum recorded when it was registered, so a file swapped in the artifact store is refused.
"""

from __future__ import annotations

import functools
from typing import Any

from mlflow import MlflowClient
from sklearn.neural_network import MLPClassifier

from mlcore.extractor import Extractor
from mlcore.model import ExpressionModel
from mlcore.reference import ReferenceData
from mlcore.registry.client import DEFAULT_MODEL_NAME, EXPERIMENT, Store
from mlcore.registry.errors import ArtifactRefused, NoModel, RegistryUnavailable
from mlcore.registry.integrity import CHECKSUM_PREFIX, file_sha256
from mlcore.registry.reads import HEAD_FILE, Reads
from mlcore.registry.writes import HEAD_REQUIREMENTS, Writes
from mlcore.versions import EXTRACTOR_TAG, KIND_TAG, LIVE_ALIAS, PARENT_TAG, VersionInfo

__all__ = [
    "CHECKSUM_PREFIX",
    "DEFAULT_MODEL_NAME",
    "EXPERIMENT",
    "HEAD_FILE",
    "HEAD_REQUIREMENTS",
    "LIVE_ALIAS",
    "ArtifactRefused",
    "NoModel",
    "Registry",
    "RegistryUnavailable",
    "VersionInfo",
    "file_sha256",
    "registry_for",
]


class Registry:
    """One registered model in one MLflow store."""

    def __init__(self, tracking_uri: str, *, artifact_root: str | None = None, model_name: str = DEFAULT_MODEL_NAME):
        self._store = Store(tracking_uri, artifact_root=artifact_root, model_name=model_name)
        self._reads = Reads(self._store)
        self._writes = Writes(self._store)

    @property
    def tracking_uri(self) -> str:
        return self._store.tracking_uri

    @property
    def artifact_root(self) -> str | None:
        return self._store.artifact_root

    @property
    def model_name(self) -> str:
        return self._store.model_name

    @property
    def client(self) -> MlflowClient:
        """MLflow's own client on this store, for what the registry does not offer (tests forging old versions)."""
        return self._store.client

    def _activate(self) -> None:
        self._store.activate()

    def _ensure_registered_model(self) -> None:
        self._store.ensure_registered_model()

    # ---- writing -------------------------------------------------------------------------------
    def experiment_id(self) -> str:
        return self._store.experiment_id()

    def start_run(self, *, name: str, tags: dict[str, str], params: dict[str, Any]) -> str:
        """A new run in the experiment, with its params; returns its id (training logs into it, then registers)."""
        return self._writes.start_run(name=name, tags=tags, params=params)

    def log_metrics(self, run_id: str, metrics: dict[str, float], *, step: int) -> None:
        self._writes.log_metrics(run_id, metrics, step=step)

    def log_dict(self, run_id: str, data: Any, artifact_file: str) -> None:
        """A JSON artifact in a run (e.g. ``split.json``), read back with ``version_json``."""
        self._writes.log_dict(run_id, data, artifact_file)

    def log_extractor(
        self,
        extractor: Extractor,
        *,
        params: dict[str, Any] | None = None,
        reference: ReferenceData | None = None,
    ) -> str:
        """Store extractor weights once, with their ONNX graph (``mlcore.graph``); the id names them in versions."""
        extractor_id, graph = self._writes.log_extractor(extractor, params=params, reference=reference)
        self._reads.remember_extractor(extractor_id, extractor, graph)
        return extractor_id

    def register(
        self,
        *,
        head: MLPClassifier,
        extractor_id: str,
        kind: str,
        parent: str | None = None,
        temperature: float = 1.0,
        abstain_threshold: float = 1.0,
        metrics: dict[str, float] | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Log ``head`` as a new version of the registered model and return its version number."""
        version_tags = {
            KIND_TAG: kind,
            EXTRACTOR_TAG: extractor_id,
            PARENT_TAG: parent or "",
            "temperature": repr(float(temperature)),
            "abstain_threshold": repr(float(abstain_threshold)),
            **(tags or {}),
        }
        return self._writes.register(
            head=head, kind=kind, tags=version_tags, metrics=metrics, params=params, run_id=run_id
        )

    def set_live(self, version: str, *, by: str = "") -> None:
        """Move the live alias to ``version``, noting who moved it."""
        self._writes.set_live(version, by=by)

    # ---- reading -------------------------------------------------------------------------------
    def live_version(self) -> str | None:
        """The version the live alias names, None when there is none; raises ``RegistryUnavailable``."""
        return self._reads.live_version()

    def version_info(self, version: str) -> VersionInfo:
        """A version's record (``mlcore.versions``); while MLflow is unreachable, the last one read in this process."""
        return self._reads.version_info(version)

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first; runs are fetched in batches, not one query per version."""
        return self._reads.versions()

    def version_json(self, version: str, name: str) -> Any | None:
        """A JSON artifact logged in a version's run (e.g. ``confusion.json``), or None."""
        return self._reads.version_json(version, name)

    def load(self, version: str | None = None) -> ExpressionModel:
        """Load a version (the live one when ``version`` is None), every file checked against its checksum."""
        return self._reads.load(version)

    def load_extractor(self, extractor_id: str) -> Extractor:
        return self._reads.load_extractor(extractor_id)

    def load_reference(self, extractor_id: str) -> ReferenceData | None:
        """The validation sets and replay pool stored with an extractor, if it has them."""
        return self._reads.load_reference(extractor_id)


@functools.cache
def registry_for(tracking_uri: str, artifact_root: str | None = None, model_name: str = DEFAULT_MODEL_NAME) -> Registry:
    """One registry object (and extractor cache) per process and store."""
    return Registry(tracking_uri, artifact_root=artifact_root, model_name=model_name)
