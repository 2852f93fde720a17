"""/admin/ lists the model operations and the uploads; audit records there can be read and never changed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from modelops.models import ModelChange, TrainingJob
from predictions.models import ImageEmbedding, Prediction
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(fake_backend, django_user_model) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """One row of each kind, as the app writes them."""
    uploaded = APIClient().post(
        "/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())}, format="multipart"
    )
    assert uploaded.status_code == 201, uploaded.content
    prediction = Prediction.objects.get(pk=uploaded.json()["id"])
    return {
        "modelchange": ModelChange.objects.create(action="promote", version="2", previous_version="1", reason="better"),
        "trainingjob": TrainingJob.objects.create(status="succeeded", active_slot=None, result_version="2"),
        "prediction": prediction,
        "imageembedding": ImageEmbedding.objects.get(prediction=prediction),
    }


CHANGELISTS = {
    "modelchange": "/admin/modelops/modelchange/",
    "trainingjob": "/admin/modelops/trainingjob/",
    "prediction": "/admin/predictions/prediction/",
    "imageembedding": "/admin/predictions/imageembedding/",
}


@pytest.mark.parametrize("kind", CHANGELISTS)
def test_each_changelist_lists_its_rows_for_a_superuser_and_can_be_searched(kind, records, admin_client):
    listed = admin_client.get(CHANGELISTS[kind])
    searched = admin_client.get(CHANGELISTS[kind], {"q": "2"})

    assert listed.status_code == 200
    assert searched.status_code == 200
    assert f"/{records[kind].pk}/change/" in listed.content.decode()  # type: ignore[attr-defined]
    assert f"{CHANGELISTS[kind]}add/" not in listed.content.decode()  # rows come from the app, not from the admin


@pytest.mark.parametrize("kind", ["modelchange", "imageembedding"])
def test_an_audit_record_opens_read_only_and_cannot_be_changed_or_deleted(kind, records, admin_client):
    record = records[kind]
    url = f"{CHANGELISTS[kind]}{record.pk}/"  # type: ignore[attr-defined]
    before = {field.attname: getattr(record, field.attname) for field in type(record)._meta.concrete_fields}

    page = admin_client.get(f"{url}change/")
    changed = admin_client.post(f"{url}change/", {"version": "999", "extractor_id": "forged"})
    deleted = admin_client.post(f"{url}delete/", {"post": "yes"})
    added = admin_client.get(f"{CHANGELISTS[kind]}add/")

    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert changed.status_code == 403 and deleted.status_code == 403 and added.status_code == 403
    record.refresh_from_db()  # type: ignore[attr-defined]
    assert {field.attname: getattr(record, field.attname) for field in type(record)._meta.concrete_fields} == before


def test_deleting_an_upload_in_the_admin_also_removes_its_file_and_embeddings(records, admin_client, isolated_media):
    prediction: Prediction = records["prediction"]  # type: ignore[assignment]
    stored = isolated_media / prediction.image.name
    assert stored.exists()

    response = admin_client.post(f"{CHANGELISTS['prediction']}{prediction.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Prediction.objects.exists() and not ImageEmbedding.objects.exists()
    assert not stored.exists()


def test_a_running_retrain_cannot_be_deleted_from_the_admin(admin_client):
    running = TrainingJob.objects.create(status="running")

    single = admin_client.post(f"{CHANGELISTS['trainingjob']}{running.pk}/delete/", {"post": "yes"})
    bulk = admin_client.post(
        CHANGELISTS["trainingjob"], {"action": "delete_selected", "_selected_action": [running.pk], "post": "yes"}
    )

    assert single.status_code == 403 and bulk.status_code == 403
    assert TrainingJob.objects.filter(pk=running.pk).exists()
