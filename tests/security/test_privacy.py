"""Deleting a photo deletes its file, embeddings and labels (replay forgets it); anyone can delete all theirs."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotations.learning.replay import labeled
from annotations.models import Annotation
from predictions.models import ImageEmbedding, Prediction
from tests.images import jpeg_bytes
from tests.security.conftest import signed_in, upload
from tests.servers import free_port

pytestmark = pytest.mark.django_db


def stored(media) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.name for p in media.rglob("*") if p.is_file()} if media.exists() else set()


def learned_label(prediction_id: str, annotator, label: str = "happy") -> Annotation:  # type: ignore[no-untyped-def]
    return Annotation.objects.create(
        image_id=prediction_id, label=label, annotator=annotator, status=Annotation.Status.LEARNED
    )


def replayed(extractor_id: str) -> int:
    replay = labeled(extractor_id=extractor_id).rows
    return 0 if replay.x is None else len(replay.x)


def test_deleting_a_photo_deletes_its_file_embeddings_and_labels_and_replay_forgets_it(
    live_model, owner, annotator, isolated_media
):
    client = signed_in(owner)
    gone, kept = upload(client, seed=1), upload(client, seed=2)
    for created in (gone, kept):
        learned_label(created["id"], annotator)
    extractor_id = ImageEmbedding.objects.get(prediction_id=gone["id"]).extractor_id
    assert replayed(extractor_id) == 2 and len(stored(isolated_media)) == 2

    assert client.delete(f"/api/predictions/{gone['id']}/").status_code == 204

    assert not Prediction.objects.filter(pk=gone["id"]).exists()
    assert not ImageEmbedding.objects.filter(prediction_id=gone["id"]).exists()
    assert not Annotation.objects.filter(image_id=gone["id"]).exists()
    assert replayed(extractor_id) == 1  # only the kept photo is left to replay
    assert len(stored(isolated_media)) == 1
    assert client.get(kept["image_url"]).status_code == 200
    assert client.get(gone["image_url"]).status_code == 404


def test_a_file_shared_by_two_predictions_goes_only_with_the_last_of_them(live_model, owner, isolated_media):
    client = signed_in(owner)
    first, second = upload(client, seed=7), upload(client, seed=7)  # the same photo twice: one stored file
    assert len(stored(isolated_media)) == 1

    client.delete(f"/api/predictions/{first['id']}/")
    assert len(stored(isolated_media)) == 1
    assert client.get(second["image_url"]).status_code == 200

    client.delete(f"/api/predictions/{second['id']}/")
    assert stored(isolated_media) == set()


def test_the_result_page_offers_its_owner_a_delete_button_that_works(live_model, owner, annotator, isolated_media):
    created = upload(signed_in(owner))
    page = f"/predictions/{created['id']}/"

    assert 'data-testid="delete"' not in signed_in(annotator).get(page).content.decode()
    client = signed_in(owner)
    assert 'data-testid="delete"' in client.get(page).content.decode()

    response = client.post(f"/predictions/{created['id']}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert "are deleted" in response.content.decode()
    assert Prediction.objects.count() == 0 and stored(isolated_media) == set()


def test_an_anonymous_session_deletes_all_its_data_and_nobody_elses(live_model, isolated_media):
    mine, other = APIClient(), APIClient()
    upload(mine, seed=1), upload(mine, seed=2)
    theirs = upload(other, seed=3)

    response = mine.post("/api/me/delete-data/")

    assert response.status_code == 200
    assert response.json() == {"predictions": 2, "annotations": 0, "embeddings": 2, "files": 2, "account": False}
    assert [str(pk) for pk in Prediction.objects.values_list("pk", flat=True)] == [theirs["id"]]
    assert len(stored(isolated_media)) == 1
    assert mine.get("/api/me/").json()["predictions"] == 0


def test_a_signed_in_annotator_deletes_their_uploads_and_the_labels_they_gave(
    live_model, owner, annotator, isolated_media
):
    parents_photo = upload(signed_in(owner), seed=1)
    client = signed_in(annotator)
    own_photo = upload(client, seed=2)
    learned_label(parents_photo["id"], annotator)
    learned_label(own_photo["id"], annotator, "sad")
    learned_label(own_photo["id"], owner, "sad")  # someone else's label on the annotator's photo goes with it

    body = client.post("/api/me/delete-data/").json()

    assert body == {"predictions": 1, "annotations": 3, "embeddings": 1, "files": 1, "account": False}
    assert [str(pk) for pk in Prediction.objects.values_list("pk", flat=True)] == [parents_photo["id"]]
    assert Annotation.objects.count() == 0
    assert signed_in(owner).get(parents_photo["image_url"]).status_code == 200


def test_the_my_data_page_deletes_everything_only_once_confirmed(live_model, owner, isolated_media):
    client = signed_in(owner)
    upload(client, seed=1), upload(client, seed=2)

    page = client.get("/accounts/data/").content.decode()
    assert 'data-testid="my-predictions">2<' in page

    client.post("/accounts/data/", {})
    assert Prediction.objects.count() == 2

    client.post("/accounts/data/", {"confirm": "yes"})
    assert Prediction.objects.count() == 0 and stored(isolated_media) == set()
    assert 'data-testid="my-predictions">0<' in client.get("/accounts/data/").content.decode()


def test_a_person_deletes_their_account_with_all_their_data(live_model, owner, stranger, django_user_model):
    client = signed_in(owner)
    upload(client, seed=1)
    theirs = upload(signed_in(stranger), seed=2)

    body = client.post("/api/me/delete-data/", {"account": True}, format="json").json()

    assert body["account"] is True and body["predictions"] == 1
    assert not django_user_model.objects.filter(pk=owner.pk).exists()
    assert client.get("/api/me/").json()["username"] is None  # signed out
    assert [str(pk) for pk in Prediction.objects.values_list("pk", flat=True)] == [theirs["id"]]


def test_the_my_data_page_closes_the_account_when_asked(live_model, owner, django_user_model):
    client = signed_in(owner)
    upload(client)

    response = client.post("/accounts/data/", {"confirm": "yes", "account": "yes"}, follow=True)

    assert "Your account is deleted" in response.content.decode()
    assert not django_user_model.objects.filter(pk=owner.pk).exists()
    assert Prediction.objects.count() == 0


def test_with_the_image_store_down_a_delete_is_a_503_and_deletes_nothing(settings, live_model, owner, annotator):
    client = signed_in(owner)
    created = upload(client)
    learned_label(created["id"], annotator)
    working = settings.STORAGES
    settings.STORAGES = {
        **working,
        "default": {
            "BACKEND": "infantino_site.storage.S3ImageStorage",
            "OPTIONS": {
                "bucket_name": "images",
                "endpoint_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
                "access_key": "k",
                "secret_key": "s",
                "region_name": "us-east-1",
                "connect_timeout": 1,
                "read_timeout": 2,
                "max_attempts": 1,
            },
        },
    }

    response = client.delete(f"/api/predictions/{created['id']}/")

    assert response.status_code == 503 and response.json()["error"]
    assert Prediction.objects.filter(pk=created["id"]).exists()
    assert ImageEmbedding.objects.filter(prediction_id=created["id"]).exists()
    assert Annotation.objects.filter(image_id=created["id"]).exists()
    settings.STORAGES = working
    assert client.delete(f"/api/predictions/{created['id']}/").status_code == 204


def test_a_labeled_upload_by_an_annotator_is_theirs_to_delete(live_model, annotator, settings):
    settings.INFANTINO_JOB_RUNNER = "inline"
    client = signed_in(annotator)
    client.get("/label/")
    response = client.post(
        "/api/labeled-images/",
        {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=64)), "label": "sad"},
        format="multipart",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 201, response.content

    assert client.post("/api/me/delete-data/").json()["predictions"] == 1
    assert Prediction.objects.count() == 0 and Annotation.objects.count() == 0
