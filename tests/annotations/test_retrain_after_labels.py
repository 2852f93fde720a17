"""Labels reach the extractor: every INFANTINO_RETRAIN_EVERY labeled images start a full retrain by themselves."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from modelops.models import TrainingJob
from modelops.selectors import labeled_since_retrain
from modelops.services import retrain
from tests.annotations.conftest import client_for
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


@pytest.fixture
def retrain_every_two(settings, tmp_path):  # type: ignore[no-untyped-def]
    """A retrain every 2 labeled images, trained from the labels alone (no data folder) in a throw-away var dir."""
    settings.INFANTINO_RETRAIN_EVERY = 2
    settings.INFANTINO_CONSOLIDATE_EVERY = 0
    settings.INFANTINO_DATA_DIR = str(tmp_path / "no-data")
    settings.VAR_DIR = tmp_path / "var"


def label_new_photo(client, label: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(seed=seed))
    response = client.post("/api/labeled-images/", {"image": photo, "label": label}, format="multipart")
    assert response.status_code == 201, response.content


def test_every_nth_labeled_image_retrains_on_all_labels_and_the_retrain_goes_live(
    retrain_every_two, fake_backend, alice
):
    client = client_for(alice)

    label_new_photo(client, "happy", seed=1)
    assert not TrainingJob.objects.exists()
    label_new_photo(client, "sad", seed=2)

    job = TrainingJob.objects.get()
    assert job.started_by is None
    assert job.options == {"preset": "full", TrainingJob.AFTER_LABELS_OPTION: True, TrainingJob.LABELED_OPTION: 2}
    assert job.status == TrainingJob.Status.SUCCEEDED and job.promoted
    assert fake_backend.live_version() == job.result_version
    assert fake_backend.version_info(job.result_version).tags["kind"] == "retrain"

    label_new_photo(client, "fear", seed=3)
    assert TrainingJob.objects.count() == 1 and labeled_since_retrain() == 1  # not due yet
    label_new_photo(client, "fear", seed=4)
    assert list(TrainingJob.objects.order_by("pk").values_list("options__labeled", flat=True)) == [2, 4]


def test_a_retrain_from_the_dashboard_counts_as_the_last_one(retrain_every_two, fake_backend, alice, settings):
    client = client_for(alice)
    label_new_photo(client, "happy", seed=1)
    retrain.retrain_start(user=None, options={"preset": "full"})  # an admin's, with one image labeled

    label_new_photo(client, "sad", seed=2)
    assert TrainingJob.objects.count() == 1
    label_new_photo(client, "neutral", seed=3)
    assert TrainingJob.objects.count() == 2


def test_no_second_retrain_is_queued_while_one_is_running(retrain_every_two, fake_backend, alice):
    running = TrainingJob.objects.create(status=TrainingJob.Status.RUNNING, options={"preset": "full"})
    client = client_for(alice)

    label_new_photo(client, "happy", seed=1)
    label_new_photo(client, "sad", seed=2)

    assert list(TrainingJob.objects.values_list("pk", flat=True)) == [running.pk]


def test_with_retrain_every_zero_labels_never_start_a_retrain(retrain_every_two, fake_backend, alice, settings):
    settings.INFANTINO_RETRAIN_EVERY = 0
    client = client_for(alice)

    for seed, label in enumerate(["happy", "sad", "fear"], 1):
        label_new_photo(client, label, seed=seed)

    assert not TrainingJob.objects.exists()
