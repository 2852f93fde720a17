"""Writing to the store: runs and their logs, extractors, new versions with their checksums, the live alias."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric
from sklearn.neural_network import MLPClassifier

from mlcore.extractor import Extractor
from mlcore.graph import GRAPH_FILE
from mlcore.graph import export as export_graph
from mlcore.online import SKOPS_TRUSTED_TYPES
from mlcore.reference import REFERENCE_FILE, ReferenceData
from mlcore.registry.client import Store
from mlcore.registry.integrity import checksum_entries
from mlcore.versions import KIND_TAG, LIVE_ALIAS, PARENT_TAG, PROMOTED_BY_TAG

logger = logging.getLogger(__name__)

# Pinned so MLflow does not infer an environment for every version (~7 s each otherwise).
HEAD_REQUIREMENTS = ["scikit-learn==1.9.1", "skops==0.16.0", "numpy"]


class Writes:
    """Everything that adds to the store; versions are created one at a time under the store's write lock."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start_run(self, *, name: str, tags: dict[str, str], params: dict[str, Any]) -> str:
        """A new run in the experiment with its params; returns its id."""
        client = self.store.client
        run = client.create_run(self.store.experiment_id(), run_name=name, tags=tags)
        for key, value in params.items():
            client.log_param(run.info.run_id, key, value)
        return run.info.run_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], *, step: int) -> None:
        now = int(time.time() * 1000)
        entries = [Metric(key=key, value=float(value), timestamp=now, step=step) for key, value in metrics.items()]
        self.store.client.log_batch(run_id, metrics=entries)

    def log_dict(self, run_id: str, data: Any, artifact_file: str) -> None:
        """A JSON artifact in a run (e.g. ``split.json``), read back with ``Registry.version_json``."""
        self.store.client.log_dict(run_id, data, artifact_file)

    def log_extractor(
        self, extractor: Extractor, *, params: dict[str, Any] | None, reference: ReferenceData | None
    ) -> tuple[str, bytes | None]:
        """Store extractor weights once, with their graph if it matches PyTorch; returns the run id and the graph."""
        with tempfile.TemporaryDirectory() as tmp:
            extractor.save(Path(tmp))
            check = export_graph(extractor, Path(tmp) / GRAPH_FILE)  # outside the write lock: seconds of CPU
            if reference is not None:
                reference.save(Path(tmp) / REFERENCE_FILE)
            with self.store.write_lock:
                # Params cannot be changed once logged: the checksums stay what they were at registration.
                run_id = self.start_run(
                    name="extractor",
                    tags={"kind": "extractor"},
                    params={**(params or {}), **check.params(), **checksum_entries(Path(tmp), "extractor")},
                )
                self.store.client.log_artifacts(run_id, tmp, artifact_path="extractor")
                self.store.client.set_terminated(run_id)
            graph = (Path(tmp) / GRAPH_FILE).read_bytes() if check.passed else None
        return run_id, graph

    def register(
        self,
        *,
        head: MLPClassifier,
        kind: str,
        tags: dict[str, str],
        metrics: dict[str, float] | None,
        params: dict[str, Any] | None,
        run_id: str | None,
    ) -> str:
        """Log ``head`` as a new version of the registered model with ``tags`` and return its version number."""
        with self.store.write_lock:
            self.store.activate()
            with mlflow.start_run(
                run_id=run_id,
                experiment_id=None if run_id else self.store.experiment_id(),
                run_name=f"{kind}",
                tags={KIND_TAG: kind},
            ) as run:
                if params:
                    mlflow.log_params({k: str(v) for k, v in params.items()})
                info = mlflow.sklearn.log_model(
                    head,
                    name="head",
                    serialization_format="skops",
                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                    pip_requirements=HEAD_REQUIREMENTS,
                )
                # After the model: log_model reads back the history of every metric the run holds already (one
                # query each, ~120 of them with the reliability bins), which cost each online label half a second.
                if metrics:
                    mlflow.log_metrics(metrics)
            # Checksums of the files as the artifact store holds them, kept in the tracking store beside them.
            with tempfile.TemporaryDirectory() as tmp:
                stored = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=tmp))
                checksums = checksum_entries(stored, "head")
            self.store.ensure_registered_model()
            # One call creates the version with all its tags (a tag per call costs a store transaction each).
            created = self.store.client.create_model_version(
                self.store.model_name,
                source=info.model_uri,
                run_id=run.info.run_id,
                tags={**tags, **checksums},
                model_id=info.model_id,
            )
            version = str(created.version)
        parent = tags.get(PARENT_TAG) or None
        logger.info("registered %s version %s (%s, parent %s)", self.store.model_name, version, kind, parent)
        return version

    def set_live(self, version: str, *, by: str) -> None:
        self.store.client.set_registered_model_alias(self.store.model_name, LIVE_ALIAS, version)
        if by:
            self.store.client.set_model_version_tag(self.store.model_name, version, PROMOTED_BY_TAG, by)
