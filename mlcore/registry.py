"""The MLflow model registry: one registered model, a version per head, alias ``champion`` = live.

Every artifact file's SHA-256 is recorded in the tracking store when it is registered (extractor files as
params of the extractor's run, head files as tags of the model version) and checked when it is loaded, so
a file swapped in the artifact store (S3, a shared folder) is refused. Heads are read with skops trusting
only sklearn's own types and ``SKOPS_TRUSTED_TYPES``, weights with ``torch.load(weights_only=True)``:
nothing from the artifact store is ever unpickled. Versions registered before checksums existed load
with a warning (they carry no checksum to compare with); a recorded checksum that does not match, or a
file missing that had one, is always refused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# MLflow's client retries a refused connection 7 times with backoff (minutes), holding the single writer all that
# time; a down server should cost seconds, and the job's own retry with backoff does the waiting.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")  # long enough to upload an extractor (~14 MB)

import mlflow
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE
from sklearn.neural_network import MLPClassifier

from mlcore.extractor import CONFIG_FILE, WEIGHTS_FILE, Extractor
from mlcore.model import ExpressionModel
from mlcore.online import SKOPS_TRUSTED_TYPES, load_head
from mlcore.reference import REFERENCE_FILE, ReferenceData

logger = logging.getLogger(__name__)

LIVE_ALIAS = "champion"
DEFAULT_MODEL_NAME = "infantino-expressions"
EXPERIMENT = "infantino"
# Pinned so MLflow does not infer an environment for every version (~7 s each otherwise).
HEAD_REQUIREMENTS = ["scikit-learn==1.9.1", "skops==0.16.0", "numpy"]
HEAD_FILE = "model.skops"
CHECKSUM_PREFIX = "sha256/"
# What MLflow answers for a version or alias that does not exist; every other failure means it is unreachable.
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
# Written by MLflow into every download of a ``models:/`` URI (never read here), so it has no fixed checksum.
_DOWNLOAD_NOTES = {"registered_model_meta"}


class NoModel(LookupError):
    """No version is registered, or none carries the requested alias."""


class RegistryUnavailable(MlflowException):
    """The MLflow server or its artifact store cannot be reached; try again later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=TEMPORARILY_UNAVAILABLE)


class ArtifactRefused(RuntimeError):
    """A model artifact does not match the checksum recorded when it was registered, or is not a kind we load."""


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_ms: int
    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str]
    aliases: tuple[str, ...] = field(default=())

    @property
    def is_live(self) -> bool:
        return LIVE_ALIAS in self.aliases

    @property
    def parent(self) -> str | None:
        return self.tags.get("parent_version") or None


class Registry:
    def __init__(self, tracking_uri: str, *, artifact_root: str | None = None, model_name: str = DEFAULT_MODEL_NAME):
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.model_name = model_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._write_lock = threading.Lock()
        self._extractors: dict[str, Extractor] = {}
        self._references: dict[str, ReferenceData | None] = {}
        self._known: dict[str, VersionInfo] = {}
        self._model_exists = False

    def _activate(self) -> None:
        """MLflow's fluent API and ``models:/`` URIs read the process-wide store; point it here."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)

    def _ensure_registered_model(self) -> None:
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
        import sqlite3
        from contextlib import closing

        try:
            with closing(sqlite3.connect(self.tracking_uri.removeprefix("sqlite:///"), timeout=5)) as store:
                store.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the database file
        except sqlite3.Error:
            logger.warning("could not switch the MLflow store to WAL; registering will be slower", exc_info=True)

    # ---- writing -------------------------------------------------------------------------------
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

    def log_extractor(
        self,
        extractor: Extractor,
        *,
        params: dict[str, Any] | None = None,
        reference: ReferenceData | None = None,
    ) -> str:
        """Store extractor weights once; the returned id names them in every version that uses them."""
        with self._write_lock, tempfile.TemporaryDirectory() as tmp:
            extractor.save(Path(tmp))
            if reference is not None:
                reference.save(Path(tmp) / REFERENCE_FILE)
            run = self.client.create_run(self.experiment_id(), run_name="extractor", tags={"kind": "extractor"})
            # Params cannot be changed once logged: the checksums stay what they were at registration.
            for key, value in {**(params or {}), **_checksum_entries(Path(tmp), "extractor")}.items():
                self.client.log_param(run.info.run_id, key, value)
            self.client.log_artifacts(run.info.run_id, tmp, artifact_path="extractor")
            self.client.set_terminated(run.info.run_id)
        self._extractors[run.info.run_id] = extractor
        return run.info.run_id

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
            "kind": kind,
            "extractor_id": extractor_id,
            "parent_version": parent or "",
            "temperature": repr(float(temperature)),
            "abstain_threshold": repr(float(abstain_threshold)),
            **(tags or {}),
        }
        with self._write_lock:
            self._activate()
            with mlflow.start_run(
                run_id=run_id,
                experiment_id=None if run_id else self.experiment_id(),
                run_name=f"{kind}",
                tags={"kind": kind},
            ) as run:
                if params:
                    mlflow.log_params({k: str(v) for k, v in params.items()})
                if metrics:
                    mlflow.log_metrics(metrics)
                info = mlflow.sklearn.log_model(
                    head,
                    name="head",
                    serialization_format="skops",
                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                    pip_requirements=HEAD_REQUIREMENTS,
                )
            # Checksums of the files as the artifact store holds them, kept in the tracking store beside them.
            with tempfile.TemporaryDirectory() as tmp:
                stored = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=tmp))
                version_tags.update(_checksum_entries(stored, "head"))
            self._ensure_registered_model()
            # One call creates the version with all its tags (a tag per call costs a store transaction each).
            created = self.client.create_model_version(
                self.model_name,
                source=info.model_uri,
                run_id=run.info.run_id,
                tags=version_tags,
                model_id=info.model_id,
            )
            version = str(created.version)
        logger.info("registered %s version %s (%s, parent %s)", self.model_name, version, kind, parent)
        return version

    def set_live(self, version: str, *, by: str = "") -> None:
        self.client.set_registered_model_alias(self.model_name, LIVE_ALIAS, version)
        if by:
            self.client.set_model_version_tag(self.model_name, version, "promoted_by", by)

    # ---- reading -------------------------------------------------------------------------------
    def live_version(self) -> str | None:
        """The version the live alias names, None when there is none; raises ``RegistryUnavailable``."""
        try:
            with _reachable("reading the live alias"):
                return str(self.client.get_model_version_by_alias(self.model_name, LIVE_ALIAS).version)
        except RegistryUnavailable:
            raise
        except MlflowException:
            return None

    def version_info(self, version: str) -> VersionInfo:
        """A version's tags and metrics; while MLflow is unreachable, the last ones read in this process."""
        try:
            with _reachable(f"reading version {version}"):
                mv = self.client.get_model_version(self.model_name, version)
                info = _version_info(mv, self.client.get_run(str(mv.run_id)))
        except RegistryUnavailable:
            if version in self._known:
                return self._known[version]
            raise
        except MlflowException:
            raise NoModel(f"version {version} of {self.model_name} does not exist") from None
        self._known[version] = info
        return info

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first; runs are fetched in batches, not one query per version."""
        try:
            found = self.client.search_model_versions(f"name = '{self.model_name}'", max_results=10_000)
        except MlflowException:
            return []
        live = self.live_version()
        runs = {}
        run_ids = sorted({mv.run_id for mv in found if mv.run_id})
        for start in range(0, len(run_ids), 100):
            quoted = ", ".join(f"'{run_id}'" for run_id in run_ids[start : start + 100])
            for run in self.client.search_runs(
                [self.experiment_id()], f"attributes.run_id IN ({quoted})", max_results=1000
            ):
                runs[run.info.run_id] = run
        ordered = sorted(found, key=lambda mv: int(mv.version), reverse=True)
        return [_version_info(mv, runs.get(mv.run_id), live=live) for mv in ordered]

    def version_json(self, version: str, name: str) -> Any | None:
        """A JSON artifact logged in a version's run (e.g. ``confusion.json``), or None."""
        import json

        info = self.version_info(version)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(info.run_id, name, tmp)
            except (MlflowException, OSError):
                return None
            return json.loads(Path(path).read_text())

    def load(self, version: str | None = None) -> ExpressionModel:
        """Load a version (the live one when ``version`` is None), every file checked against its checksum."""
        version = version or self.live_version()
        if version is None:
            raise NoModel("no model is live yet")
        info = self.version_info(version)
        self._activate()
        with tempfile.TemporaryDirectory() as tmp, _reachable(f"downloading the head of version {version}"):
            stored = Path(
                mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{self.model_name}/{version}", dst_path=tmp)
            )
            _verify(stored, _recorded(info.tags, "head"), what=f"the head of version {version}", reads=(HEAD_FILE,))
            if not (stored / HEAD_FILE).is_file():
                raise ArtifactRefused(f"the head of version {version} is not a skops file; it is not loaded")
            try:
                head = load_head(stored / HEAD_FILE)
            except Exception as error:  # skops refuses untrusted types, and anything else it cannot read
                raise ArtifactRefused(f"the head of version {version} was refused: {error}") from None
        extractor_id = info.tags["extractor_id"]
        return ExpressionModel(
            extractor=self.load_extractor(extractor_id),
            head=head,
            version=version,
            extractor_id=extractor_id,
            temperature=float(info.tags.get("temperature", "1.0")),
            abstain_threshold=float(info.tags.get("abstain_threshold", "1.0")),
        )

    def load_extractor(self, extractor_id: str) -> Extractor:
        if extractor_id not in self._extractors:
            recorded = self._extractor_checksums(extractor_id)
            with tempfile.TemporaryDirectory() as tmp, _reachable(f"downloading extractor {extractor_id}"):
                path = Path(self.client.download_artifacts(extractor_id, "extractor", tmp))
                _verify(path, recorded, what=f"extractor {extractor_id}", reads=(CONFIG_FILE, WEIGHTS_FILE))
                try:
                    self._extractors[extractor_id] = Extractor.load(path)
                except Exception as error:  # torch.load(weights_only=True) refuses a pickle of anything but tensors
                    raise ArtifactRefused(f"the weights of extractor {extractor_id} were refused: {error}") from None
        return self._extractors[extractor_id]

    def load_reference(self, extractor_id: str) -> ReferenceData | None:
        """The validation sets and replay pool stored with an extractor, if it has them."""
        if extractor_id not in self._references:
            recorded = self._extractor_checksums(extractor_id)
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    with _reachable(f"downloading the reference data of extractor {extractor_id}"):
                        path = Path(self.client.download_artifacts(extractor_id, f"extractor/{REFERENCE_FILE}", tmp))
                except RegistryUnavailable:
                    raise
                except (MlflowException, OSError):
                    if REFERENCE_FILE in recorded:
                        raise ArtifactRefused(f"the reference data of extractor {extractor_id} is missing") from None
                    self._references[extractor_id] = None
                else:
                    checked = {REFERENCE_FILE: recorded[REFERENCE_FILE]} if REFERENCE_FILE in recorded else {}
                    if recorded and not checked:
                        raise ArtifactRefused(f"extractor {extractor_id} was registered without reference data")
                    _verify(path.parent, checked, what=f"extractor {extractor_id}", reads=(REFERENCE_FILE,))
                    self._references[extractor_id] = ReferenceData.load(path)
        return self._references[extractor_id]

    def _extractor_checksums(self, extractor_id: str) -> dict[str, str]:
        with _reachable(f"reading extractor {extractor_id}"):
            return _recorded(self.client.get_run(extractor_id).data.params, "extractor")


@contextmanager
def _reachable(doing: str) -> Iterator[None]:
    """Turn MLflow's connection failures into ``RegistryUnavailable``; "not found" answers pass through."""
    try:
        yield
    except RegistryUnavailable:
        raise
    except MlflowException as error:
        if error.error_code in _NOT_FOUND:
            raise
        raise RegistryUnavailable(f"MLflow cannot be reached ({doing}): {error.message[:300]}") from error
    except requests.exceptions.RequestException as error:
        raise RegistryUnavailable(f"MLflow cannot be reached ({doing}): {error}") from error


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_entries(directory: Path, part: str) -> dict[str, str]:
    """``sha256/<part>/<file>`` → hex digest for every file under ``directory``."""
    return {
        f"{CHECKSUM_PREFIX}{part}/{path.relative_to(directory).as_posix()}": file_sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name not in _DOWNLOAD_NOTES
    }


def _recorded(entries: dict[str, str], part: str) -> dict[str, str]:
    """The checksums recorded for ``part``, by file path relative to it."""
    prefix = f"{CHECKSUM_PREFIX}{part}/"
    return {key.removeprefix(prefix): value for key, value in entries.items() if key.startswith(prefix)}


def _verify(directory: Path, recorded: dict[str, str], *, what: str, reads: tuple[str, ...]) -> None:
    """Refuse unless every file recorded, and every file about to be read, is there and matches its checksum."""
    if not recorded:
        logger.warning("%s was registered before checksums were recorded: loaded unverified", what)
        return
    for name in sorted({*recorded, *reads}):
        path = directory / name
        if name not in recorded:
            raise ArtifactRefused(f"{what} is refused: {name} was not part of it when it was registered")
        if not path.is_file():
            raise ArtifactRefused(f"{what} is refused: {name} is missing from the artifact store")
        if file_sha256(path) != recorded[name]:
            raise ArtifactRefused(f"{what} is refused: {name} does not match the checksum recorded at registration")


def _version_info(mv: Any, run: Any | None, *, live: str | None = None) -> VersionInfo:
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


@functools.cache
def registry_for(tracking_uri: str, artifact_root: str | None = None, model_name: str = DEFAULT_MODEL_NAME) -> Registry:
    """One registry object (and extractor cache) per process and store."""
    return Registry(tracking_uri, artifact_root=artifact_root, model_name=model_name)
