"""Every visitor sees a retrain's progress (stage, percent, minutes left) and nothing of its internals."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from infantino_site.asgi import application
from modelops.events import broadcast_model_updated, broadcast_training
from modelops.models import TrainingJob
from modelops.selectors import training_job_payload, training_public_payload

SAME_ORIGIN = (b"origin", b"http://127.0.0.1")
SECRETS = ("fer_train_loss", "0.8731", "0.4242", "annie", "disk full", "/var/lib/secret-data")


def staff_job_payload(**progress: object) -> dict[str, object]:
    """A running retrain as the staff dashboard receives it: losses, metrics, who started it, its message."""
    return {
        "id": 7,
        "status": "running",
        "progress": {
            "stage": "fer",
            "step": 42,
            "total": 100,
            "epoch": 2,
            "loss": 0.8731,
            "metrics": {"fer_train_loss": 0.8731, "fer_val_accuracy": 0.4242},
            "eta_seconds": 150.0,
            "fraction": 0.4217,
            "stage_fraction": 0.42,
            **progress,
        },
        "result_version": None,
        "promoted": False,
        "message": "disk full at /var/lib/secret-data",
        "cancel_requested": False,
        "started_by": "annie",
        "created": "2025-01-01T00:00:00+00:00",
        "finished": None,
    }


def test_the_public_summary_says_the_stage_in_words_the_percent_and_the_minutes_left():
    assert training_public_payload(staff_job_payload()) == {
        "status": "running",
        "stage": "Learning from adult faces",
        "percent": 42,
        "minutes_left": 3,
    }


def test_the_public_summary_leaks_no_loss_metric_user_or_message():
    sent = json.dumps(training_public_payload(staff_job_payload()))

    assert [secret for secret in SECRETS if secret in sent] == []


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        ("faces", "Preparing faces"),
        ("adapt", "Adapting to infant faces"),
        ("infant", "Learning from infant faces"),
        ("head", "Fitting the classifier"),
        ("projection features", "Training"),  # an internal name never reaches the page
    ],
)
def test_each_training_stage_reads_as_words_a_parent_understands(stage, words):
    assert training_public_payload(staff_job_payload(stage=stage))["stage"] == words


def test_a_finished_retrain_reads_one_hundred_percent_with_no_time_left():
    done = {**staff_job_payload(), "status": "succeeded"}

    assert training_public_payload(done) | {"stage": ""} == {
        "status": "succeeded",
        "stage": "",
        "percent": 100,
        "minutes_left": None,
    }


def test_without_an_estimate_no_minutes_are_promised():
    assert training_public_payload(staff_job_payload(eta_seconds=None))["minutes_left"] is None
    assert training_public_payload(staff_job_payload(eta_seconds=float("nan")))["minutes_left"] is None


def test_a_queued_retrain_is_waiting_to_start_at_zero_percent():
    queued = {"status": "queued", "progress": {"stage": "queued", "fraction": 0.0}}

    assert training_public_payload(queued) == {
        "status": "queued",
        "stage": "Waiting to start",
        "percent": 0,
        "minutes_left": None,
    }


# ---- the pages' websocket ------------------------------------------------------------------------------------
async def anonymous_socket() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/models/", headers=[SAME_ORIGIN])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_page_hears_each_progress_event_without_its_internals():
    communicator = await anonymous_socket()

    await sync_to_async(broadcast_training)(staff_job_payload())
    await sync_to_async(broadcast_training)(staff_job_payload(stage="infant", fraction=0.75, eta_seconds=30.0))

    first = await communicator.receive_json_from(timeout=5)
    second = await communicator.receive_json_from(timeout=5)
    assert first == {
        "type": "training.public",
        "training": {"status": "running", "stage": "Learning from adult faces", "percent": 42, "minutes_left": 3},
    }
    assert second["training"] == {
        "status": "running",
        "stage": "Learning from infant faces",
        "percent": 75,
        "minutes_left": 1,
    }
    assert [secret for secret in SECRETS if secret in json.dumps([first, second])] == []
    await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_page_opened_during_a_retrain_is_told_where_it_stands_at_once():
    await sync_to_async(TrainingJob.objects.create)(
        status="running", progress={"stage": "head", "fraction": 0.9, "loss": 0.5}
    )

    communicator = await anonymous_socket()

    assert await communicator.receive_json_from(timeout=5) == {
        "type": "training.public",
        "training": {"status": "running", "stage": "Fitting the classifier", "percent": 90, "minutes_left": None},
    }
    await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_new_live_version_says_a_training_made_it_and_nothing_else_that_was_sent(fake_backend):
    communicator = await anonymous_socket()

    await sync_to_async(broadcast_model_updated)("1", reason="train", annotation_ids="3,4")

    assert await communicator.receive_json_from(timeout=5) == {
        "type": "model.updated",
        "version": "1",
        "reason": "train",
    }
    await communicator.disconnect()


# ---- the banner rendered with the page -------------------------------------------------------------------------
BANNER = "A better model is training — "


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/label/"])
def test_a_page_opened_during_a_retrain_shows_the_banner_without_any_script(fake_backend, path, django_user_model):
    TrainingJob.objects.create(status="running", progress={"stage": "fer", "fraction": 0.42, "eta_seconds": 150})
    client = Client()
    client.force_login(django_user_model.objects.create_user("admin", password="a-long-password", is_staff=True))

    page = client.get(path).content.decode()

    assert 'role="status" aria-live="polite" data-training-banner' in page
    assert BANNER + "<span data-training-stage>Learning from adult faces</span>, " in page
    assert "<span data-training-percent>42%</span>, about 3 min left" in page


@pytest.mark.django_db
def test_the_banner_is_absent_when_no_retrain_is_running_or_the_last_one_failed(fake_backend):
    TrainingJob.objects.create(
        status="failed", active_slot=None, progress={"stage": "fer", "fraction": 0.42}, message="disk full"
    )

    page = Client().get("/").content.decode()

    assert "data-training-banner" in page  # the empty status region, for what may appear in it
    assert BANNER not in page and "disk full" not in page


def test_the_public_summary_is_reduced_from_the_payload_the_reporter_broadcasts():
    job = TrainingJob(pk=3, status="running", progress={"stage": "embed", "fraction": 0.95, "loss": 0.1})

    assert training_public_payload(training_job_payload(job))["stage"] == "Reading every face again"
