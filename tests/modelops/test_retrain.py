"""Full retrains from the dashboard: one at a time, cancellable, promoted only when the guard passes them."""

from __future__ import annotations

import pytest

from modelops.models import ModelChange, TrainingJob
from modelops.services import retrain
from predictions import ml
from tests.mlcore.tiny_data import fer_csv, image_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_data(settings, tmp_path):  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    image_folder(root / "infant", per_label=4)
    (root / "fer2013").mkdir()
    fer_csv(root / "fer2013" / "fer2013.csv", per_label=6)
    settings.INFANTINO_DATA_DIR = str(root)
    settings.VAR_DIR = tmp_path / "var"
    settings.INFANTINO_JOB_RUNNER = "inline"
    return root


def test_a_tiny_retrain_runs_end_to_end_and_registers_a_version(
    client, staff, live_model, tiny_data, django_capture_on_commit_callbacks
):
    before = {v.version for v in ml.backend().versions()}

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/dashboard/retrain/", {"preset": "tiny"})

    job = TrainingJob.objects.get()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.message
    assert job.result_version and job.result_version not in before
    assert job.progress["fraction"] == 1.0
    assert job.active_slot is None
    info = ml.backend().version_info(job.result_version)
    assert info.tags["kind"] == "retrain"
    assert "infant_accuracy" in info.metrics and "fer_accuracy" in info.metrics
    assert ml.backend().live_version() == (job.result_version if job.promoted else live_model)


def test_a_retrain_that_passes_the_guard_goes_live_with_an_audit_row(
    client, staff, fake_backend, tiny_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/dashboard/retrain/", {"preset": "tiny"})

    job = TrainingJob.objects.get()
    assert (job.status, job.promoted) == (TrainingJob.Status.SUCCEEDED, True), job.message
    assert fake_backend.live_version() == job.result_version
    assert fake_backend.moves[-1] == (job.result_version, "retrain guard")
    change = ModelChange.objects.get()
    assert (change.action, change.version, change.user) == ("train", job.result_version, staff)
    assert change.reason.startswith(f"retrain #{job.pk}: ")


def test_a_retrain_worse_on_infants_is_registered_but_not_promoted(staff, fake_backend, tiny_data):
    live = fake_backend.live_version()
    fake_backend.versions_made[live].metrics["infant_accuracy"] = 0.9
    job = TrainingJob.objects.create(started_by=staff, options={"preset": "tiny"})

    job = retrain.retrain_run(job_id=job.pk)

    assert (job.status, job.promoted) == (TrainingJob.Status.SUCCEEDED, False)
    assert job.message.startswith(f"Version {job.result_version} registered; not promoted")
    assert fake_backend.live_version() == live
    assert not ModelChange.objects.exists()


def test_a_second_retrain_while_one_runs_is_refused_with_a_clear_message(client, staff, fake_backend, tiny_data):
    first = retrain.retrain_start(user=staff, options={"preset": "tiny"})

    response = client.post("/dashboard/retrain/", {"preset": "tiny"}, follow=True)

    assert f"A retrain is already queued (#{first.pk}, started by admin)" in response.content.decode()
    assert TrainingJob.objects.count() == 1


def test_a_cancelled_retrain_stops_and_frees_the_slot(client, staff, fake_backend, tiny_data):
    job = TrainingJob.objects.create(started_by=staff, options={"preset": "tiny"})
    client.post(f"/dashboard/retrain/{job.pk}/cancel/")

    job = retrain.retrain_run(job_id=job.pk)

    assert job.status == TrainingJob.Status.CANCELLED
    assert job.active_slot is None
    assert retrain.retrain_start(user=staff, options={"preset": "tiny"}).pk != job.pk


def test_a_retrain_with_nothing_to_learn_from_fails_and_says_why(staff, fake_backend, settings, tmp_path):
    settings.INFANTINO_DATA_DIR, settings.VAR_DIR = str(tmp_path / "empty"), tmp_path / "var"
    job = TrainingJob.objects.create(started_by=staff, options={"preset": "tiny"})

    job = retrain.retrain_run(job_id=job.pk)

    assert job.status == TrainingJob.Status.FAILED
    assert "no infant images to train on" in job.message and job.active_slot is None
