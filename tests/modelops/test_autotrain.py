"""The first run serves the real model: while only the starter is live, a starting server trains the full one, once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from common import jobs
from modelops.models import TrainingJob
from modelops.services import autotrain, autotrain_ensure, autotrain_in_background, retrain
from tests.mlcore.tiny_data import image_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def infant_photos(settings, tmp_path):  # type: ignore[no-untyped-def]
    """A data folder with infant photos, jobs run inline, autotrain on (the tests' environment turns it off)."""
    image_folder(tmp_path / "data" / "infant", per_label=2)
    settings.INFANTINO_DATA_DIR = str(tmp_path / "data")
    settings.VAR_DIR = tmp_path / "var"
    settings.INFANTINO_JOB_RUNNER = "inline"
    settings.INFANTINO_AUTOTRAIN = True
    return tmp_path / "data"


@pytest.fixture
def starter(fake_backend) -> str:  # type: ignore[no-untyped-def]
    """The quick starter model `make run` bootstraps, live."""
    version = fake_backend.add_version(kind="bootstrap")
    fake_backend.set_live(version, by="bootstrap")
    return version


def start_server(capture) -> TrainingJob | None:  # type: ignore[no-untyped-def]
    """What a starting web process does, with the jobs it queues run at once."""
    with capture(execute=True):
        return autotrain_ensure()


def test_a_first_start_with_only_the_starter_live_trains_and_serves_the_full_model(
    fake_backend, starter, infant_photos, django_capture_on_commit_callbacks
):
    job = start_server(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert (job.status, job.started_by) == ("succeeded", None)
    assert job.options == {**autotrain.AUTOTRAIN_OPTIONS, TrainingJob.LABELED_OPTION: 0}
    assert job.promoted and fake_backend.live_version() == job.result_version != starter
    assert fake_backend.version_info(job.result_version).tags["kind"] == "retrain"


def test_a_model_grown_from_the_starter_by_labels_still_gets_the_full_training(
    fake_backend, starter, infant_photos, django_capture_on_commit_callbacks
):
    learned = fake_backend.add_version(kind="online", parent=starter, label="happy")
    fake_backend.set_live(learned, by="label")

    job = start_server(django_capture_on_commit_callbacks)

    assert job is not None and TrainingJob.objects.get().options["autotrain"] is True


def test_a_server_started_again_after_the_full_training_finished_trains_nothing(
    fake_backend, starter, infant_photos, django_capture_on_commit_callbacks
):
    first = start_server(django_capture_on_commit_callbacks)
    fake_backend.set_live(starter, by="an admin rolled back")

    assert start_server(django_capture_on_commit_callbacks) is None
    assert list(TrainingJob.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.parametrize("ended", [TrainingJob.Status.CANCELLED, TrainingJob.Status.FAILED])
def test_an_autotrain_an_admin_cancelled_or_that_failed_never_starts_again(
    starter, infant_photos, ended, django_capture_on_commit_callbacks
):
    TrainingJob.objects.create(
        options=autotrain.AUTOTRAIN_OPTIONS, status=ended, active_slot=None, finished=timezone.now()
    )

    assert start_server(django_capture_on_commit_callbacks) is None
    assert TrainingJob.objects.count() == 1


def test_no_training_starts_while_a_trained_model_is_live(
    fake_backend, infant_photos, django_capture_on_commit_callbacks
):
    fake_backend.set_live(fake_backend.add_version(kind="retrain"), by="train")

    assert start_server(django_capture_on_commit_callbacks) is None
    assert not TrainingJob.objects.exists()


def test_no_training_starts_when_autotrain_is_turned_off(
    settings, starter, infant_photos, django_capture_on_commit_callbacks
):
    settings.INFANTINO_AUTOTRAIN = False

    assert start_server(django_capture_on_commit_callbacks) is None
    assert not TrainingJob.objects.exists()


def test_no_training_starts_without_infant_photos_or_labels(
    settings, starter, infant_photos, tmp_path, django_capture_on_commit_callbacks
):
    settings.INFANTINO_DATA_DIR = str(tmp_path / "nothing-here")

    assert start_server(django_capture_on_commit_callbacks) is None
    assert not TrainingJob.objects.exists()


def test_a_retrain_already_queued_by_an_admin_is_not_doubled(
    settings, starter, infant_photos, monkeypatch, django_capture_on_commit_callbacks
):
    settings.INFANTINO_JOB_RUNNER = "celery"  # its worker owns the queued retrain, alive or not
    sent = []
    monkeypatch.setattr(jobs, "send", lambda path, kwargs: sent.append((path, kwargs)))
    queued = TrainingJob.objects.create(options={"preset": "full"}, status=TrainingJob.Status.RUNNING)

    assert start_server(django_capture_on_commit_callbacks) is None
    assert list(TrainingJob.objects.values_list("pk", "status")) == [(queued.pk, "running")]
    assert sent == []


def test_a_retrain_a_restart_cut_short_carries_on_as_the_same_job(
    fake_backend, starter, infant_photos, django_capture_on_commit_callbacks
):
    cut_short = TrainingJob.objects.create(options={"preset": "full"}, status=TrainingJob.Status.RUNNING)

    resumed = start_server(django_capture_on_commit_callbacks)

    assert resumed is not None and resumed.pk == cut_short.pk
    cut_short.refresh_from_db()
    assert (cut_short.status, cut_short.active_slot) == ("succeeded", None)
    assert TrainingJob.objects.count() == 1
    assert fake_backend.live_version() == cut_short.result_version


def test_a_retrain_resumed_after_a_long_stop_is_not_taken_for_dead(
    settings, starter, infant_photos, monkeypatch, django_capture_on_commit_callbacks
):
    settings.INFANTINO_JOB_RUNNER = "thread"
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, **kwargs: queued.append((path, kwargs)))
    cut_short = TrainingJob.objects.create(options={"preset": "full"}, status=TrainingJob.Status.RUNNING)
    TrainingJob.objects.filter(pk=cut_short.pk).update(updated=timezone.now() - timedelta(days=2))

    start_server(django_capture_on_commit_callbacks)

    assert queued == [(retrain.JOB, {"job_id": cut_short.pk})]
    with pytest.raises(retrain.RetrainRefused, match=f"already queued \\(#{cut_short.pk}"):
        retrain.retrain_start(user=None, options={"preset": "full"})
    assert list(TrainingJob.objects.values_list("pk", "status")) == [(cut_short.pk, "queued")]


def test_a_failure_at_start_up_is_logged_and_the_server_starts_anyway(settings, monkeypatch, caplog):
    settings.INFANTINO_AUTOTRAIN = True

    def registry_down() -> list[TrainingJob]:
        raise ConnectionError("the database cannot be reached")

    monkeypatch.setattr(autotrain, "retrain_resume_orphans", registry_down)
    with caplog.at_level(logging.ERROR, logger="modelops.services.autotrain"):
        thread = autotrain_in_background()
        assert thread is not None
        thread.join(timeout=10)

    assert "could not start or resume the full training at start-up" in caplog.text
    assert "the database cannot be reached" in caplog.text
