"""The live version and its metrics, for anyone: ``GET /api/models/live/``, and on the upload page."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_live_model_endpoint_reports_version_and_metrics(live_model):
    response = APIClient().get("/api/models/live/")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == live_model
    assert body["metrics"]["infant_accuracy"] == 0.5
    assert body["created"]


def test_the_live_model_endpoint_is_a_json_404_without_a_model(model_registry):
    response = APIClient().get("/api/models/live/")
    assert response.status_code == 404
    assert response.json() == {"error": "No model is trained yet."}


def test_the_live_model_endpoint_follows_the_alias(fake_backend):
    newer = fake_backend.add_version(kind="retrain", infant_accuracy=0.8)
    fake_backend.set_live(newer, by="tests")

    body = APIClient().get("/api/models/live/").json()

    assert (body["version"], body["kind"], body["metrics"]["infant_accuracy"]) == (newer, "retrain", 0.8)


def test_the_upload_page_names_the_live_version_and_its_infant_accuracy(client, fake_backend):
    newer = fake_backend.add_version(kind="retrain", infant_accuracy=0.734)
    fake_backend.set_live(newer, by="tests")

    page = client.get("/").content.decode()

    assert f"data-live-version>{newer}</strong>, infant accuracy 0.73." in page
