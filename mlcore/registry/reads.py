"""Reading the store: the live alias, versions and their metrics, and loading checked artifacts, with caches.

Heads are read with skops trusting only sklearn's own types and ``SKOPS_TRUSTED_TYPES``, weights with
``torch.load(weights_only=True)``: nothing from the artifact store is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from mlcore.extractor import CONFIG_FILE, WEIGHTS_FILE, Extractor
from mlcore.graph import GRAPH_FILE, ExtractorGraph
from mlcore.model import ExpressionModel
from mlcore.online import load_head
from mlcore.reference import REFERENCE_FILE, ReferenceData
from mlcore.registry.client import Store
from mlcore.registry.errors import ArtifactRefused, NoModel, RegistryUnavailable, reachable
from mlcore.registry.integrity import recorded, verify
from mlcore.versions import LIVE_ALIAS, VersionInfo

logger = logging.getLogger(__name__)

HEAD_FILE = "model.skops"


class Reads:
    """Everything that reads the store; extractors, reference data and version details are kept per process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._extractors: dict[str, Extractor] = {}
        self._graphs: dict[str, ExtractorGraph | None] = {}  # None: the extractor has no graph, PyTorch serves it
        self._references: dict[str, ReferenceData | None] = {}
        self._known: dict[str, VersionInfo] = {}

    def remember_extractor(self, extractor_id: str, extractor: Extractor, graph: bytes | None) -> None:
        """An extractor this process has just logged needs no download to be loaded."""
        self._extractors[extractor_id] = extractor
        self._graphs[extractor_id] = _graph_session(graph, extractor_id)

    def live_version(self) -> str | None:
        try:
            with reachable("reading the live alias"):
                return str(self.store.client.get_model_version_by_alias(self.store.model_name, LIVE_ALIAS).version)
        except RegistryUnavailable:
            raise
        except MlflowException:
            return None

    def version_info(self, version: str) -> VersionInfo:
        client = self.store.client
        try:
            with reachable(f"reading version {version}"):
                mv = client.get_model_version(self.store.model_name, version)
                info = version_info_of(mv, client.get_run(str(mv.run_id)))
        except RegistryUnavailable:
            if version in self._known:
                return self._known[version]
            raise
        except MlflowException:
            raise NoModel(f"version {version} of {self.store.model_name} does not exist") from None
        self._known[version] = info
        return info

    def versions(self) -> list[VersionInfo]:
        client = self.store.client
        try:
            found = client.search_model_versions(f"name = '{self.store.model_name}'", max_results=10_000)
        except MlflowException:
            return []
        live = self.live_version()
        runs = {}
        run_ids = sorted({mv.run_id for mv in found if mv.run_id})
        for start in range(0, len(run_ids), 100):
            quoted = ", ".join(f"'{run_id}'" for run_id in run_ids[start : start + 100])
            for run in client.search_runs(
                [self.store.experiment_id()], f"attributes.run_id IN ({quoted})", max_results=1000
            ):
                runs[run.info.run_id] = run
        ordered = sorted(found, key=lambda mv: int(mv.version), reverse=True)
        return [version_info_of(mv, runs.get(mv.run_id), live=live) for mv in ordered]

    def version_json(self, version: str, name: str) -> Any | None:
        info = self.version_info(version)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.store.client.download_artifacts(info.run_id, name, tmp)
            except (MlflowException, OSError):
                return None
            return json.loads(Path(path).read_text())

    def load(self, version: str | None) -> ExpressionModel:
        version = version or self.live_version()
        if version is None:
            raise NoModel("no model is live yet")
        info = self.version_info(version)
        self.store.activate()
        with tempfile.TemporaryDirectory() as tmp, reachable(f"downloading the head of version {version}"):
            uri = f"models:/{self.store.model_name}/{version}"
            stored = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
            verify(stored, recorded(info.tags, "head"), what=f"the head of version {version}", reads=(HEAD_FILE,))
            if not (stored / HEAD_FILE).is_file():
                raise ArtifactRefused(f"the head of version {version} is not a skops file; it is not loaded")
            try:
                head = load_head(stored / HEAD_FILE)
            except Exception as error:  # skops refuses untrusted types, and anything else it cannot read
                raise ArtifactRefused(f"the head of version {version} was refused: {error}") from None
        extractor_id = info.extractor_id
        extractor = self.load_extractor(extractor_id)
        return ExpressionModel(
            extractor=extractor,
            graph=self._graphs.get(extractor_id),
            head=head,
            version=version,
            extractor_id=extractor_id,
            temperature=float(info.tags.get("temperature", "1.0")),
            abstain_threshold=float(info.tags.get("abstain_threshold", "1.0")),
        )

    def load_extractor(self, extractor_id: str) -> Extractor:
        if extractor_id not in self._extractors:
            checksums = self._extractor_checksums(extractor_id)
            with tempfile.TemporaryDirectory() as tmp, reachable(f"downloading extractor {extractor_id}"):
                path = Path(self.store.client.download_artifacts(extractor_id, "extractor", tmp))
                # A graph is read only if it was registered with the weights (checked against PyTorch then).
                graph = path / GRAPH_FILE
                reads = (CONFIG_FILE, WEIGHTS_FILE, *((GRAPH_FILE,) if graph.is_file() else ()))
                verify(path, checksums, what=f"extractor {extractor_id}", reads=reads)
                try:
                    extractor = Extractor.load(path)
                except Exception as error:  # torch.load(weights_only=True) refuses a pickle of anything but tensors
                    raise ArtifactRefused(f"the weights of extractor {extractor_id} were refused: {error}") from None
                exported = graph.read_bytes() if graph.is_file() else None
                self._graphs[extractor_id] = _graph_session(exported, extractor_id)
                self._extractors[extractor_id] = extractor
        return self._extractors[extractor_id]

    def load_reference(self, extractor_id: str) -> ReferenceData | None:
        if extractor_id not in self._references:
            self._references[extractor_id] = self._download_reference(extractor_id)
        return self._references[extractor_id]

    def _download_reference(self, extractor_id: str) -> ReferenceData | None:
        checksums = self._extractor_checksums(extractor_id)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with reachable(f"downloading the reference data of extractor {extractor_id}"):
                    path = Path(self.store.client.download_artifacts(extractor_id, f"extractor/{REFERENCE_FILE}", tmp))
            except RegistryUnavailable:
                raise
            except (MlflowException, OSError):
                if REFERENCE_FILE in checksums:
                    raise ArtifactRefused(f"the reference data of extractor {extractor_id} is missing") from None
                return None
            checked = {REFERENCE_FILE: checksums[REFERENCE_FILE]} if REFERENCE_FILE in checksums else {}
            if checksums and not checked:
                raise ArtifactRefused(f"extractor {extractor_id} was registered without reference data")
            verify(path.parent, checked, what=f"extractor {extractor_id}", reads=(REFERENCE_FILE,))
            return ReferenceData.load(path)

    def _extractor_checksums(self, extractor_id: str) -> dict[str, str]:
        with reachable(f"reading extractor {extractor_id}"):
            return recorded(self.store.client.get_run(extractor_id).data.params, "extractor")


def _graph_session(graph: bytes | None, extractor_id: str) -> ExtractorGraph | None:
    """An ONNX Runtime session on the extractor's graph; None (PyTorch serves) without one or when it cannot run."""
    if graph is None:
        return None
    try:
        return ExtractorGraph(graph)
    except Exception as error:  # onnxruntime missing or refusing the graph: the weights still serve
        logger.warning("extractor %s is served by PyTorch: its ONNX graph did not load (%s)", extractor_id, error)
        return None


def version_info_of(mv: Any, run: Any | None, *, live: str | None = None) -> VersionInfo:
    """A model version and its run as MLflow returns them, as a ``VersionInfo``."""
    aliases = tuple(mv.aliases or ())
    if live is not None and str(mv.version) == live and LIVE_ALIAS not in aliases:
        aliases = (*aliases, LIVE_ALIAS)
    return VersionInfo(
        version=str(mv.version),
        created_ms=int(mv.creation_timestamp),
        run_id=mv.run_id,
        tags=dict(mv.tags),
        metrics=dict(run.data.metrics) if run is not None else {},
        params=dict(run.data.params) if run is not None else {},
        aliases=aliases,
    )
