"""/healthz says the process answers; /readyz asks every part, answers within seconds, and names what failed."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client

from infantino_site import health

PARTS = {"database", "cache", "storage", "mlflow", "model"}


def test_liveness_answers_ok_without_touching_the_database():
    # No django_db mark: a query would fail this test.
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_a_load_balancers_probe_is_answered_whatever_its_host_header_and_over_plain_http(settings):
    settings.SECURE_SSL_REDIRECT = True  # production: every other request is redirected to https
    settings.ALLOWED_HOSTS = ["infantino.example"]

    probe = Client().get("/healthz/", HTTP_HOST="10.1.2.3:8000")
    page = Client().get("/", HTTP_HOST="infantino.example")

    assert probe.status_code == 200
    assert page.status_code == 301  # the probe's exemption is not everyone's


def test_a_probe_is_refused_any_method_but_get_and_needs_no_csrf_token():
    response = Client(enforce_csrf_checks=True).post("/readyz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_readiness_is_200_with_every_part_ok_on_the_embedded_profile_with_a_model(live_model):
    response = Client().get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": dict.fromkeys(PARTS, "ok")}


@pytest.mark.django_db
def test_readiness_is_503_naming_the_model_while_none_is_trained(model_registry):
    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "No model is trained yet" in body["checks"].pop("model")
    assert body["checks"] == dict.fromkeys(PARTS - {"model"}, "ok")


@pytest.fixture
def hanging_database(monkeypatch):  # type: ignore[no-untyped-def]
    """A database that never answers (until the test ends), counting how often it is asked."""
    release, calls = threading.Event(), []

    def hang() -> None:
        calls.append(1)
        release.wait(30)

    monkeypatch.setitem(health.CHECKS, "database", hang)
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.5)
    yield calls
    release.set()
    health._running.clear()


@pytest.mark.django_db
def test_a_part_that_hangs_is_reported_within_the_deadline_and_is_not_asked_again_while_it_hangs(
    hanging_database, fake_backend
):
    answers, took = [], []
    for _ in range(3):
        started = time.monotonic()
        answers.append(Client().get("/readyz"))
        took.append(time.monotonic() - started)

    assert [answer.status_code for answer in answers] == [503] * 3
    assert {answer.json()["checks"]["database"] for answer in answers} == {"timed out after 0.5 s"}
    assert all(answer.json()["checks"]["model"] == "ok" for answer in answers)
    assert max(took) < 2, took
    assert len(hanging_database) == 1  # one thread waits on it; later probes wait on that one, not on new ones
