"""The registry wrapper tells "MLflow is down" apart from "there is no such model", and gives up in seconds."""

from __future__ import annotations

import time

import pytest

from mlcore.registry import NoModel, Registry, RegistryUnavailable
from tests.servers import free_port


@pytest.fixture(scope="module")
def unreachable() -> Registry:
    return Registry(f"http://127.0.0.1:{free_port()}", model_name="nothing-listens-here")


def test_a_down_server_is_reported_as_unavailable_within_seconds_not_as_no_model(unreachable):
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="MLflow cannot be reached"):
        unreachable.live_version()
    assert time.monotonic() - started < 10  # MLflow's own default retries would take minutes


def test_reading_or_loading_a_version_from_a_down_server_is_unavailable(unreachable):
    with pytest.raises(RegistryUnavailable):
        unreachable.version_info("1")
    with pytest.raises(RegistryUnavailable):
        unreachable.load("1")


def test_a_reachable_store_without_the_model_answers_none_and_no_model(mlflow_store):
    registry = Registry(mlflow_store["uri"], artifact_root=mlflow_store["artifacts"], model_name="never-registered")

    assert registry.live_version() is None
    with pytest.raises(NoModel):
        registry.version_info("1")
