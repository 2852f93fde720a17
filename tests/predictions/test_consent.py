"""A parent decides whether annotators may see their baby's photo and the model may learn from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from annotations.learning.replay import labeled
from annotations.models import Annotation
from predictions.models import Prediction
from predictions.selectors import predictions_labeled_to_consensus, predictions_usable_for_learning
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator(django_user_model):  # type: ignore[no-untyped-def]
    from accounts.services import annotator_grant

    user = django_user_model.objects.create_user(username="anna", password="labels-are-fun-42")
    annotator_grant(user=user)
    return user


def signed_in(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def upload(client: APIClient, seed: int, **fields: object) -> dict:
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(size=64, seed=seed))
    response = client.post("/api/predictions/", {"image": photo, **fields}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def queued_ids(annotator) -> set[str]:  # type: ignore[no-untyped-def]
    return {item["id"] for item in signed_in(annotator).get("/api/queue/?n=50").json()}


def learned(image_id: str, annotator) -> Annotation:  # type: ignore[no-untyped-def]
    return Annotation.objects.create(image_id=image_id, label="happy", annotator=annotator, status="learned")


def test_an_anonymous_upload_without_consent_never_appears_in_the_queue(fake_backend, annotator):
    private = upload(APIClient(), seed=1)
    shared = upload(APIClient(), seed=2, consent=True)

    assert (private["consent"], shared["consent"]) == (False, True)
    assert queued_ids(annotator) == {shared["id"]}


def test_a_photo_without_consent_is_never_trained_on_or_replayed(fake_backend, annotator):
    private = upload(APIClient(), seed=1)
    shared = upload(APIClient(), seed=2, consent=True)
    for created in (private, shared):
        learned(created["id"], annotator)  # as a label given before its parent withdrew consent

    assert [str(pk) for pk in predictions_usable_for_learning().values_list("pk", flat=True)] == [shared["id"]]
    assert [str(photo.pk) for photo, _ in predictions_labeled_to_consensus()] == [shared["id"]]
    replay = labeled(extractor_id="fake-extractor").rows
    assert replay.y is not None and len(replay.y) == 1


def test_annotators_cannot_open_or_label_a_photo_its_parent_keeps_to_themselves(fake_backend, annotator):
    parent = APIClient()
    private = upload(parent, seed=3)
    client = signed_in(annotator)

    assert client.get(f"/api/predictions/{private['id']}/").status_code == 404
    assert client.get(f"/predictions/{private['id']}/image/").status_code == 404
    refused = client.post("/api/annotations/", {"image": private["id"], "label": "sad"}, format="json")
    unknown = client.post(
        "/api/annotations/", {"image": "00000000-0000-0000-0000-000000000000", "label": "sad"}, format="json"
    )
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == unknown.json()
    assert not Annotation.objects.exists()
    assert parent.get(f"/api/predictions/{private['id']}/").status_code == 200


def test_withdrawing_consent_on_my_data_takes_the_photo_out_of_the_queue(fake_backend, annotator, client):
    response = client.post("/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=64)), "consent": "yes"})
    assert response.status_code == 302
    photo = Prediction.objects.get()
    assert photo.consent and queued_ids(annotator) == {str(photo.pk)}
    page = client.get("/accounts/data/").content.decode()
    assert 'data-testid="my-shared">1<' in page and f'data-testid="consent-{photo.pk}"' in page

    client.post("/accounts/data/", {"action": "consent", "prediction": str(photo.pk), "consent": "no"})

    assert not Prediction.objects.get().consent
    assert queued_ids(annotator) == set()
    client.post("/accounts/data/", {"action": "consent", "prediction": str(photo.pk), "consent": "yes"})
    assert queued_ids(annotator) == {str(photo.pk)}


def test_only_the_uploader_changes_consent_through_the_api(fake_backend, annotator, django_user_model):
    parent = APIClient()
    created = upload(parent, seed=4)
    admin = django_user_model.objects.create_user(username="root", password="x", is_staff=True)

    for someone_else in (APIClient(), signed_in(annotator), signed_in(admin)):
        answer = someone_else.patch(f"/api/predictions/{created['id']}/", {"consent": True}, format="json")
        assert answer.status_code == 404
    assert parent.patch(f"/api/predictions/{created['id']}/", {"consent": "maybe"}, format="json").status_code == 400
    shared = parent.patch(f"/api/predictions/{created['id']}/", {"consent": True}, format="json")

    assert shared.status_code == 200
    assert shared.json()["consent"] is True and shared.json()["deletion_due"] is None
    assert queued_ids(annotator) == {created["id"]}
    assert parent.get("/api/me/").json()["shared"] == 1


def test_the_upload_page_asks_and_the_result_page_says_when_an_unshared_photo_goes(settings, fake_backend, client):
    settings.INFANTINO_RETENTION_DAYS = 7
    assert 'name="consent"' in client.get("/").content.decode()

    client.post("/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=64))})

    photo = Prediction.objects.get()
    due = timezone.localtime(photo.created + timedelta(days=7))
    assert not photo.consent
    page = client.get(f"/predictions/{photo.pk}/").content.decode()
    assert 'data-testid="deletion-due"' in page and f'datetime="{due.date().isoformat()}' in page
    assert client.get(f"/api/predictions/{photo.pk}/").json()["deletion_due"][:10] == due.date().isoformat()
