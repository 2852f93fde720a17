"""A server stopped in the middle of the full training carries it on, as the same job, from its last checkpoint."""

from __future__ import annotations

import pytest

from modelops.models import TrainingJob
from modelops.services import autotrain, autotrain_ensure, retrain
from predictions import ml
from predictions.ml import ProgressEvent
from tests.conftest import tiny_head
from tests.mlcore.tiny_data import fer_csv, image_folder

pytestmark = pytest.mark.django_db


class ServerKilled(BaseException):
    """The server process dies: nothing in it runs on, not even an ``except Exception``."""


class Progress:
    """Every progress event the training reports; kills the server at the FER step ``kill_at``, if set."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []
        self.kill_at: int | None = None

    def fer_steps(self) -> list[int]:
        return [event.step for event in self.events if event.stage == "fer"]

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)
        if event.stage == "fer" and event.step == self.kill_at:
            raise ServerKilled


@pytest.fixture
def progress(monkeypatch) -> Progress:  # type: ignore[no-untyped-def]
    seen = Progress()
    report = retrain._ProgressReporter.__call__

    def watch(reporter: retrain._ProgressReporter, event: ProgressEvent) -> None:
        seen(event)
        report(reporter, event)

    monkeypatch.setattr(retrain._ProgressReporter, "__call__", watch)
    return seen


@pytest.fixture
def first_run(settings, tmp_path, model_registry, tiny_extractor_id, monkeypatch):  # type: ignore[no-untyped-def]
    """`make run` on a fresh clone: the starter live, tiny data, the full training made tiny to keep the test fast."""
    image_folder(tmp_path / "data" / "infant", per_label=4)
    (tmp_path / "data" / "fer2013").mkdir()
    fer_csv(tmp_path / "data" / "fer2013" / "fer2013.csv", per_label=6)
    settings.INFANTINO_DATA_DIR, settings.VAR_DIR = str(tmp_path / "data"), tmp_path / "var"
    settings.INFANTINO_JOB_RUNNER, settings.INFANTINO_AUTOTRAIN = "inline", True
    monkeypatch.setattr(autotrain, "AUTOTRAIN_OPTIONS", {"preset": "tiny", "autotrain": True})
    starter = model_registry.register(head=tiny_head(), extractor_id=tiny_extractor_id, kind="bootstrap", metrics={})
    model_registry.set_live(starter, by="bootstrap")
    return starter


def test_a_server_stopped_mid_training_resumes_the_same_job_from_its_checkpoint(
    first_run, progress, django_capture_on_commit_callbacks
):
    progress.kill_at = 2  # the second FER step: the first one is checkpointed
    with pytest.raises(ServerKilled), django_capture_on_commit_callbacks(execute=True):
        autotrain_ensure()
    cut_short = TrainingJob.objects.get()
    assert (cut_short.status, cut_short.active_slot) == ("running", "active")  # as a dead process leaves it
    assert progress.fer_steps() == [1, 2]

    progress.events.clear()
    progress.kill_at = None
    ml.reset_backend()  # a new server process holds nothing of the old one
    with django_capture_on_commit_callbacks(execute=True):
        resumed = autotrain_ensure()

    assert resumed is not None and resumed.pk == cut_short.pk
    assert TrainingJob.objects.count() == 1
    job = TrainingJob.objects.get()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.message
    assert progress.fer_steps()[0] > 1, "the FER stage started over instead of resuming"
    assert ml.backend().version_info(job.result_version).tags["kind"] == "retrain"
    assert ml.backend().live_version() == (job.result_version if job.promoted else first_run)
