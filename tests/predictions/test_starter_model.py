"""Answers from the quick starter model say so, and an unsure answer names the two expressions it hesitates between."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from modelops.models import TrainingJob
from predictions.ml import ModelUnavailable
from predictions.models import Prediction
from predictions.selectors import version_is_starter
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

STARTER_SENTENCE = "This answer came from the starter model; a better model is training."


def upload(client: APIClient, seed: int = 1) -> dict:
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(size=64, seed=seed))
    response = client.post("/api/predictions/", {"image": photo}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def serve(fake_backend, kind: str, parent: str | None = None) -> str:  # type: ignore[no-untyped-def]
    version = fake_backend.add_version(kind=kind, parent=parent)
    fake_backend.set_live(version, by="tests")
    return version


def test_the_api_marks_an_answer_from_the_starter_model_and_not_one_from_a_trained_model(fake_backend):
    client = APIClient()
    serve(fake_backend, "bootstrap")
    from_starter = upload(client, seed=1)
    serve(fake_backend, "retrain")
    from_trained = upload(client, seed=2)

    assert (from_starter["starter_model"], from_trained["starter_model"]) == (True, False)
    listed = {item["id"]: item["starter_model"] for item in client.get("/api/predictions/").json()["results"]}
    assert listed == {from_starter["id"]: True, from_trained["id"]: False}


def test_a_starter_that_learned_a_few_labels_is_still_the_starter(fake_backend):
    starter = serve(fake_backend, "bootstrap")
    learned = serve(fake_backend, "online", parent=starter)
    retrained = serve(fake_backend, "retrain")
    learned_after = serve(fake_backend, "online", parent=retrained)

    assert [version_is_starter(v) for v in (learned, learned_after)] == [True, False]


def test_each_version_is_asked_about_once_since_versions_never_change(fake_backend, monkeypatch):
    starter = serve(fake_backend, "bootstrap")
    assert version_is_starter(starter)

    def registry_down(version: str) -> None:
        raise ModelUnavailable("MLflow is down")

    monkeypatch.setattr(fake_backend, "version_info", registry_down)
    assert version_is_starter(starter)  # remembered
    assert not version_is_starter("99")  # the registry cannot say: not called a starter, and not remembered


def test_the_result_page_says_the_starter_answered_and_that_a_better_model_is_training(fake_backend):
    client = APIClient()
    serve(fake_backend, "bootstrap")
    prediction = upload(client)

    quiet = client.get(f"/predictions/{prediction['id']}/").content.decode()
    TrainingJob.objects.create(status="running", progress={"stage": "fer", "fraction": 0.3})
    training = client.get(f"/predictions/{prediction['id']}/").content.decode()

    assert "(starter model)" in quiet and STARTER_SENTENCE not in quiet
    assert STARTER_SENTENCE in training


def test_a_trained_models_answer_never_mentions_the_starter(fake_backend):
    client = APIClient()
    serve(fake_backend, "retrain")
    TrainingJob.objects.create(status="running", progress={"stage": "fer", "fraction": 0.3})
    prediction = upload(client)

    page = client.get(f"/predictions/{prediction['id']}/").content.decode()

    assert "starter model" not in page


def make_unsure(prediction_id: str) -> None:
    probabilities = {"happy": 0.31, "neutral": 0.29, "sad": 0.1, "angry": 0.1, "fear": 0.1, "surprise": 0.05}
    Prediction.objects.filter(pk=prediction_id).update(
        label="unsure", top_label="happy", probabilities={**probabilities, "disgust": 0.05}
    )


def test_an_unsure_result_names_its_two_likeliest_expressions_with_their_percentages(fake_backend):
    client = APIClient()
    prediction = upload(client)
    make_unsure(prediction["id"])

    page = client.get(f"/predictions/{prediction['id']}/").content.decode()

    assert "Its best guess is <strong>happy</strong> (31.0%), then <strong>neutral</strong> (29.0%)." in page


def test_the_upload_pages_history_says_which_two_expressions_an_unsure_answer_hesitates_between(fake_backend):
    client = APIClient()
    prediction = upload(client)
    make_unsure(prediction["id"])

    page = client.get("/").content.decode()

    assert '<span class="label unsure">unsure</span> (happy or neutral)</span>' in page
