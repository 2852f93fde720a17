"""Shared fixtures: a tiny live model in a throw-away MLflow store, isolated media, fresh process state."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from xdist.scheduler import LoadScopeScheduling

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
JOBS_FINISH_SECONDS = 120  # the longest a test's background jobs may run on after it


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The SQLite test database is a file of this session's (each xdist worker's) own, not a shared-cache memory
    database: there a write racing a background job's failed at once ("database table is locked") instead of
    waiting its turn through the busy timeout, WAL and ``BEGIN IMMEDIATE`` the embedded profile runs with."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.getbasetemp() / "test-db.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """MD5 for the accounts tests make: the app's PBKDF2 costs 0.3 s of CPU per password set or checked here, paid
    by every annotator a test creates. Tests about passwords themselves name their own hasher."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def app_server_templates(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Servers started by tests copy one migrated database and link one set of collected static files (made once
    per run, at the first server of any xdist worker: the workers' folders share this run's parent folder)
    instead of migrating and collecting for each."""
    from tests import servers

    run_root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_root = run_root.parent
    servers.TEMPLATES.root = run_root / "app-template"


# What starts processes of its own (servers, workers, a browser): a unit that does takes tens of seconds.
STARTS_PROCESSES = (
    "running_app",
    "app_server(",
    "production_stack(",
    "proxied_mlflow(",
    "celery_worker(",
    "CeleryWorker(",
)


@functools.cache
def _module_text(module: str) -> str:
    path = REPO_ROOT / module
    return path.read_text(errors="replace") if path.is_file() else ""


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def xdist_unit(nodeid: str) -> str:
    """The unit a pytest-xdist worker takes whole: a module's tests (its module-scoped servers start once) and the
    tests of the one session-wide browser app. Modules that use the one Redis server on 6379 run side by side:
    each has a database of its own (``tests/site/test_xdist_units.py`` keeps it so)."""
    module = _module(nodeid)
    return "running_app" if "running_app" in _module_text(module) else module


def starts_processes(nodeid: str) -> bool:
    return any(marker in _module_text(_module(nodeid)) for marker in STARTS_PROCESSES)


class UnitScheduling(LoadScopeScheduling):
    """Hands each worker whole :func:`xdist_unit` units, those that start processes first, then the rest by size.

    Not ``--dist loadgroup``: its ``xdist_group`` markers work by renaming the test's node id, which pytest 9.2 no
    longer reads, so two Celery tests of one module ran at once in two workers, each worker taking the other's
    jobs. And not xdist's order (most tests first): a stack of servers holds few tests and takes minutes, so it
    came last and ran alone while the other worker idled."""

    def _split_scope(self, nodeid: str) -> str:
        return xdist_unit(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        """xdist assigns the unit at the front of its queue: put the one this order prefers there first (the
        queue is reordered, never the collections: a worker runs tests by their index in its own)."""
        self.workqueue.move_to_end(
            min(self.workqueue, key=lambda unit: self.priority(self.workqueue[unit])), last=False
        )
        super()._assign_work_unit(node)

    @staticmethod
    def priority(unit: dict[str, bool]) -> tuple[bool, int]:
        return (not starts_processes(next(iter(unit))), -len(unit))


def pytest_configure(config: pytest.Config) -> None:
    """Name this run before xdist starts its workers: they inherit the name, and share what is made under it."""
    from tests.servers import run_id

    run_id()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # pytest's main process, once every worker is done
        from tests.servers import drop_postgres_template

        drop_postgres_template()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> UnitScheduling:
    return UnitScheduling(config, log)  # type: ignore[arg-type]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test's background jobs end with it, before its fixtures are torn down: a job still running would find
    the real backend put back, or write into the next test's database."""
    try:
        return (yield)
    finally:
        from common import jobs

        jobs.wait_for_idle(timeout=JOBS_FINISH_SECONDS)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("mlflow")
    return {"uri": f"sqlite:///{root / 'mlflow.db'}", "artifacts": (root / "artifacts").as_uri()}


@pytest.fixture(scope="session")
def tiny_extractor_id(mlflow_store: dict[str, str]) -> str:
    """A randomly initialised extractor at 32 px, logged once per test session."""
    import torch

    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.registry import registry_for

    torch.manual_seed(0)
    extractor = build_extractor(ExtractorConfig(image_size=32, face_detector="haar"), imagenet=False).eval()
    return registry_for(mlflow_store["uri"], mlflow_store["artifacts"]).log_extractor(extractor)


def tiny_head(seed: int = 0):  # type: ignore[no-untyped-def]
    """An MLP head fitted on random embeddings, all seven classes known."""
    from mlcore.online import fit_head, new_head

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(70, 64)).astype(np.float32)
    y = np.arange(70) % 7
    return fit_head(new_head(seed=seed), x, y, epochs=2, seed=seed)


@pytest.fixture
def model_registry(settings, mlflow_store: dict[str, str]):  # type: ignore[no-untyped-def]
    """A registry under a model name of this test's own, with no version yet."""
    from mlcore.registry import registry_for
    from predictions import ml

    settings.INFANTINO_MLFLOW_URI = mlflow_store["uri"]
    settings.INFANTINO_MLFLOW_ARTIFACTS = mlflow_store["artifacts"]
    settings.INFANTINO_MODEL_NAME = f"test-{uuid.uuid4().hex[:12]}"
    ml.reset_backend()
    yield registry_for(mlflow_store["uri"], mlflow_store["artifacts"], settings.INFANTINO_MODEL_NAME)
    ml.reset_backend()


@pytest.fixture
def live_model(model_registry, tiny_extractor_id: str) -> str:  # type: ignore[no-untyped-def]
    """Register a tiny model and make it live; returns its version."""
    version = model_registry.register(
        head=tiny_head(),
        extractor_id=tiny_extractor_id,
        kind="test",
        metrics={"infant_accuracy": 0.5, "fer_accuracy": 0.5},
    )
    model_registry.set_live(version, by="tests")
    return version


@pytest.fixture
def fake_backend(settings):  # type: ignore[no-untyped-def]
    """The in-memory backend instead of MLflow, with one version live: for tests about everything but the model."""
    from predictions import ml

    settings.INFANTINO_ML_BACKEND = "tests.fake_backend.FakeBackend"
    ml.reset_backend()
    fake = ml.backend()
    fake.set_live(fake.add_version(kind="test"), by="tests")
    yield fake
    ml.reset_backend()


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path: Path) -> Path:
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return media


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "infant").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (a fresh clone does not have it)")
    return SHARED_DATA
