from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from predictions import ml, services
from predictions.models import ModelChange, TrainingJob
from tests.conftest import tiny_head
from tests.images import jpeg_bytes
from tests.mlcore.tiny_data import fer_csv, image_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("admin", password="a-long-password", is_staff=True)
    client.force_login(user)
    return user


@pytest.fixture
def second_version(model_registry, live_model, tiny_extractor_id) -> str:  # type: ignore[no-untyped-def]
    return model_registry.register(
        head=tiny_head(seed=1),
        extractor_id=tiny_extractor_id,
        kind="test",
        parent=live_model,
        metrics={"infant_accuracy": 0.6, "fer_accuracy": 0.5},
    )


def predicted_version() -> str:
    response = APIClient().post(
        "/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())}, format="multipart"
    )
    assert response.status_code == 201
    return response.json()["model_version"]


def test_the_dashboard_is_for_staff_only(client, live_model):
    assert client.get("/dashboard/").status_code == 302  # to the sign-in page
    user = get_user_model().objects.create_user("parent", password="a-long-password")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 302
    assert client.post("/dashboard/promote/", {"version": live_model}).status_code == 302
    assert not ModelChange.objects.exists()


def test_the_dashboard_lists_every_version_with_its_metrics_and_marks_the_live_one(client, staff, second_version):
    page = client.get("/dashboard/").content.decode()

    assert f'data-version="{second_version}"' in page
    assert 'class="live" data-version="1"' in page
    assert "0.600" in page  # infant accuracy of the second version
    assert "<svg" in page and "polyline" in page  # the accuracy chart, rendered on the server


def test_promote_and_rollback_change_the_version_predictions_report(client, staff, live_model, second_version):
    assert predicted_version() == live_model

    client.post("/dashboard/promote/", {"version": second_version, "reason": "better on infants"})
    assert predicted_version() == second_version

    client.post("/dashboard/rollback/", {"reason": "parents complained"})
    assert predicted_version() == live_model

    promote, rollback = reversed(ModelChange.objects.all())
    assert (promote.action, promote.version, promote.previous_version, promote.user, promote.reason) == (
        "promote",
        second_version,
        live_model,
        staff,
        "better on infants",
    )
    assert (rollback.action, rollback.version, rollback.previous_version) == ("rollback", live_model, second_version)
    assert ml.registry().version_info(second_version).tags["promoted_by"] == "admin"


def test_promoting_an_unknown_version_changes_nothing(client, staff, live_model):
    response = client.post("/dashboard/promote/", {"version": "999"}, follow=True)
    assert "There is no model version 999." in response.content.decode()
    assert ml.live_version() == live_model
    assert not ModelChange.objects.exists()


def test_version_detail_shows_lineage_and_compare_shows_both(client, staff, live_model, second_version):
    detail = client.get(f"/dashboard/versions/{second_version}/").content.decode()
    assert f"v{second_version}</a> ← <a" in detail and f"v{live_model}</a>" in detail

    compare = client.get(f"/dashboard/compare/?a={live_model}&b={second_version}")
    assert compare.status_code == 200
    page = compare.content.decode()
    assert f"Version {live_model}" in page and f"Version {second_version}" in page


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
    before = {v.version for v in ml.registry().versions()}

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/dashboard/retrain/", {"preset": "tiny"})

    job = TrainingJob.objects.get()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.message
    assert job.result_version and job.result_version not in before
    assert job.progress["fraction"] == 1.0
    assert job.active_slot is None
    info = ml.registry().version_info(job.result_version)
    assert info.tags["kind"] == "retrain"
    assert "infant_accuracy" in info.metrics and "fer_accuracy" in info.metrics
    assert ml.live_version() == (job.result_version if job.promoted else live_model)


def test_a_second_retrain_while_one_runs_is_refused_with_a_clear_message(client, staff, live_model, tiny_data):
    first = services.retrain_start(user=staff, options={"preset": "tiny"})

    response = client.post("/dashboard/retrain/", {"preset": "tiny"}, follow=True)

    assert f"A retrain is already queued (#{first.pk}, started by admin)" in response.content.decode()
    assert TrainingJob.objects.count() == 1


def test_a_cancelled_retrain_stops_and_frees_the_slot(staff, live_model, tiny_data):
    job = TrainingJob.objects.create(started_by=staff, options={"preset": "tiny"})
    services.retrain_cancel(job_id=job.pk)

    job = services.retrain_run(job_id=job.pk)

    assert job.status == TrainingJob.Status.CANCELLED
    assert job.active_slot is None
    assert services.retrain_start(user=staff, options={"preset": "tiny"}).pk != job.pk


def test_a_retrain_learns_from_the_dataset_and_from_every_image_users_labeled(live_model, tiny_data, tmp_path):
    from annotations.models import Annotation
    from predictions.services import _consensus_labels, prediction_create

    user = get_user_model().objects.create_user("labeler", password="a-long-password")
    photo = prediction_create(upload=SimpleUploadedFile("b.jpg", jpeg_bytes(seed=9)))
    Annotation.objects.create(image=photo, label="surprise", annotator=user, status=Annotation.Status.LEARNED)
    ignored = prediction_create(upload=SimpleUploadedFile("c.jpg", jpeg_bytes(seed=10)))
    Annotation.objects.create(image=ignored, label="sad", annotator=user, status=Annotation.Status.QUEUED)

    folder = ml.training_images(tiny_data / "infant", _consensus_labels(), tmp_path / "images")

    surprise = sorted(p.name for p in (folder / "surprise").iterdir())
    assert f"labeled-{photo.image.name.rsplit('/', 1)[-1]}" in surprise
    assert len([name for name in surprise if name.startswith("dataset-")]) == 4
    assert (folder / "surprise" / "dataset-0.png").is_symlink()
    assert not any(p.name.startswith("labeled-") for p in (folder / "sad").iterdir())
