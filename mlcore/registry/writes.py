"""Writing to the store: runs and their logs, extractors, new versions with their checksums, the live alias."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param
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
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """All of ``params`` in one call (MLflow takes at most 100 per batch)."""
        entries = [Param(key, str(value)) for key, value in params.items()]
        for start in range(0, len(entries), 100):
            self.store.client.log_batch(run_id, params=entries[start : start + 100])

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
        """Store ``head`` as a new version of the registered model with ``tags`` and return its version number.

        The head is written and checksummed here, then copied into the run's artifacts and registered from
        there: no logged-model entity and no read-back of what was just written, which made a label's version
        cost a third of a second more.
        """
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "head"
            mlflow.sklearn.save_model(
                head,
                local,
                serialization_format="skops",
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                pip_requirements=HEAD_REQUIREMENTS,
            )
            checksums = checksum_entries(local, "head")
            client = self.store.client
            with self.store.write_lock:
                if run_id is None:
                    run_id = self.start_run(name=kind, tags={KIND_TAG: kind}, params=params or {})
                else:
                    client.set_tag(run_id, KIND_TAG, kind)
                    self.log_params(run_id, params or {})
                artifact_uri = client.get_run(run_id).info.artifact_uri
                client.log_artifacts(run_id, str(local), artifact_path="head")
                if metrics:
                    self.log_metrics(run_id, metrics, step=0)
                client.set_terminated(run_id)
                self.store.ensure_registered_model()
                # One call creates the version with all its tags (a tag per call costs a store transaction each).
                created = client.create_model_version(
                    self.store.model_name,
                    source=f"{artifact_uri.rstrip('/')}/head",
                    run_id=run_id,
                    tags={**tags, **checksums},
                )
                version = str(created.version)
        parent = tags.get(PARENT_TAG) or None
        logger.info("registered %s version %s (%s, parent %s)", self.store.model_name, version, kind, parent)
        return version

    def set_live(self, version: str, *, by: str) -> None:
        self.store.client.set_registered_model_alias(self.store.model_name, LIVE_ALIAS, version)
        if by:
            self.store.client.set_model_version_tag(self.store.model_name, version, PROMOTED_BY_TAG, by)
