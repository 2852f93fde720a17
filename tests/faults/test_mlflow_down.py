"""MLflow goes away: a process keeps serving the model it loaded; one with nothing loaded answers 503."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from mlcore.registry import Registry
from predictions import ml
from predictions.ml import live
from predictions.models import Prediction
from tests.images import jpeg_bytes
from tests.servers import free_port, mlflow_server, register_tiny_model

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def post(seed: int = 0):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("b.jpg", jpeg_bytes(seed=seed))
    return APIClient().post("/api/predictions/", {"image": upload}, format="multipart")


class Clock:
    """The live model's clock, moved only by the test: whether MLflow is asked again depends on the retry interval
    as the process counts it, not on how long a busy machine took over the requests in between."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fresh_process(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """This test's own model name, nothing loaded, and MLflow asked on every request unless known to be down."""
    settings.INFANTINO_MODEL_NAME = f"down-{uuid.uuid4().hex[:8]}"
    settings.INFANTINO_MODEL_POLL_SECONDS = 0
    monkeypatch.setattr(live, "time", Clock())
    ml.reset_backend()
    yield settings
    ml.reset_backend()


@pytest.fixture
def asked(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """One entry each time the process asks MLflow which version is live."""
    calls: list[str] = []
    ask = Registry.live_version

    def counted(registry: Registry) -> str | None:
        calls.append(registry.model_name)
        return ask(registry)

    monkeypatch.setattr(Registry, "live_version", counted)
    return calls


def test_a_loaded_model_keeps_serving_while_mlflow_is_down_and_mlflow_is_asked_again_later(
    fresh_process, asked, tmp_path, caplog
):
    settings = fresh_process
    with mlflow_server(tmp_path) as uri:
        settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS = uri, None
        version = register_tiny_model(uri, None, settings.INFANTINO_MODEL_NAME)
        loaded = post(seed=1)
        assert loaded.status_code == 201 and loaded.json()["model_version"] == version
    # The server is stopped now: nothing answers at its address.

    with caplog.at_level(logging.WARNING, logger="predictions.ml"):
        live.time.advance(0.01)
        before = len(asked)
        first, first_took = timed(post, seed=2)  # finds MLflow down: a few seconds of the client's retries
        asked_first = len(asked) - before
        soon = [post(seed=seed) for seed in (3, 4)]  # within the retry interval: MLflow is not asked
        asked_soon = len(asked) - before - asked_first
        live_answer = APIClient().get("/api/models/live/")
        live.time.advance(1.2)
        asked_before_later = len(asked)
        later = post(seed=5)  # past it: asked again, still down
        asked_later = len(asked) - asked_before_later

    answers = [first, *soon, later]
    assert [a.status_code for a in answers] == [201] * 4
    assert {a.json()["model_version"] for a in answers} == {version}
    assert Prediction.objects.count() == 5
    assert (asked_first, asked_soon, asked_later) == (1, 0, 1)
    assert first_took < 15  # the client's retries are bounded
    assert live_answer.status_code == 200 and live_answer.json()["version"] == version  # what this process knows
    warnings = [r.getMessage() for r in caplog.records if "could not check or load the live model" in r.getMessage()]
    assert len(warnings) == 1, warnings  # one warning a minute, not one per request
    assert f"still serving version {version}" in warnings[0]


def timed(call, **kwargs):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = call(**kwargs)
    return result, time.monotonic() - started


def test_a_process_with_no_model_loaded_answers_503_while_mlflow_is_down(fresh_process, asked):
    settings = fresh_process
    settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS = f"http://127.0.0.1:{free_port()}", None

    prediction = post()
    asked_first = len(asked)
    again = post(seed=1)
    asked_again = len(asked) - asked_first
    live_answer = APIClient().get("/api/models/live/")
    page = Client().get("/")

    assert prediction.status_code == 503 and "try again" in prediction.json()["error"]
    assert asked_first == 1
    assert again.status_code == 503 and asked_again == 0  # known to be down: answered without waiting on MLflow
    assert live_answer.status_code == 503 and "cannot be reached" in live_answer.json()["error"]
    assert Prediction.objects.count() == 0
    assert page.status_code == 200 and b"cannot be reached" in page.content  # the page says why, it does not fail
