"""Each person sees only their own photos and predictions unless their role says otherwise; others get 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotations.models import Annotation
from predictions.models import Prediction
from tests.security.conftest import signed_in, upload

pytestmark = pytest.mark.django_db

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def id_routes(prediction_id: str) -> dict[str, str]:
    return {
        "api": f"/api/predictions/{prediction_id}/",
        "page": f"/predictions/{prediction_id}/",
        "image": f"/predictions/{prediction_id}/image/",
    }


def answers(client: APIClient, prediction_id: str) -> dict[str, int]:
    return {name: client.get(url).status_code for name, url in id_routes(prediction_id).items()}


def test_an_anonymous_api_upload_is_read_back_by_the_same_client_and_by_nobody_else(fake_backend, stranger):
    parent = APIClient()
    created = upload(parent)

    assert answers(parent, created["id"]) == {"api": 200, "page": 200, "image": 200}
    assert parent.get(f"/api/predictions/{created['id']}/").json() == created
    for other in (APIClient(), signed_in(stranger)):
        assert answers(other, created["id"]) == {"api": 404, "page": 404, "image": 404}


def test_someone_elses_prediction_answers_exactly_like_one_that_does_not_exist(fake_backend, owner, stranger):
    created = upload(signed_in(owner))
    client = signed_in(stranger)

    theirs = client.get(f"/api/predictions/{created['id']}/")
    missing = client.get(f"/api/predictions/{UNKNOWN}/")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json() == {"error": "No prediction has this id."}


def test_a_signed_in_owner_sees_their_upload_from_any_session(fake_backend, owner):
    created = upload(signed_in(owner))

    assert answers(signed_in(owner), created["id"]) == {"api": 200, "page": 200, "image": 200}


def test_the_photo_is_served_only_through_the_checked_route_never_from_an_open_media_path(
    fake_backend, owner, isolated_media
):
    client = signed_in(owner)
    created = upload(client)
    (stored,) = [p for p in isolated_media.rglob("*") if p.is_file()]

    photo = client.get(created["image_url"])

    assert created["image_url"].endswith(f"/predictions/{created['id']}/image/")
    assert photo.status_code == 200
    assert b"".join(photo.streaming_content) == stored.read_bytes()
    assert "private" in photo["Cache-Control"]
    relative = stored.relative_to(isolated_media).as_posix()
    assert client.get(f"/media/{relative}").status_code == 404


def test_annotators_see_others_photos_to_label_them_but_cannot_delete_them(fake_backend, owner, annotator):
    created = upload(signed_in(owner))
    client = signed_in(annotator)

    assert answers(client, created["id"]) == {"api": 200, "page": 200, "image": 200}
    assert client.delete(f"/api/predictions/{created['id']}/").status_code == 404
    assert client.post(f"/predictions/{created['id']}/delete/").status_code == 404
    assert Prediction.objects.filter(pk=created["id"]).exists()


def test_nobody_but_the_owner_or_an_admin_deletes_a_photo(fake_backend, owner, stranger, admin):
    first, second = upload(signed_in(owner), seed=1), upload(signed_in(owner), seed=2)

    assert APIClient().delete(f"/api/predictions/{first['id']}/").status_code == 404
    assert signed_in(stranger).delete(f"/api/predictions/{first['id']}/").status_code == 404
    assert signed_in(stranger).post(f"/predictions/{first['id']}/delete/").status_code == 404
    assert Prediction.objects.count() == 2

    assert signed_in(owner).delete(f"/api/predictions/{first['id']}/").status_code == 204
    assert signed_in(admin).delete(f"/api/predictions/{second['id']}/").status_code == 204
    assert Prediction.objects.count() == 0


def test_the_upload_page_lists_only_this_persons_uploads(fake_backend, owner, stranger):
    mine, theirs = upload(signed_in(owner), seed=1), upload(signed_in(stranger), seed=2)

    page = signed_in(owner).get("/").content.decode()

    assert f"/predictions/{mine['id']}/" in page
    assert theirs["id"] not in page


def test_photos_uploaded_before_signing_in_stay_with_the_person(fake_backend, owner, client):
    from tests.security.conftest import PASSWORD

    client.get("/")
    csrf = client.cookies["csrftoken"].value
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.images import jpeg_bytes

    client.post("/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=64)), "csrfmiddlewaretoken": csrf})
    (prediction,) = Prediction.objects.all()

    assert client.post("/accounts/login/", {"username": owner.username, "password": PASSWORD}).status_code == 302

    prediction.refresh_from_db()
    assert prediction.uploaded_by == owner
    assert client.get(f"/predictions/{prediction.pk}/").status_code == 200


LABELING_ROUTES = [
    ("get", "/api/queue/"),
    ("get", "/api/agreement/"),
    ("post", "/api/annotations/"),
    ("post", "/api/labeled-images/"),
]


@pytest.mark.parametrize(("method", "url"), LABELING_ROUTES)
def test_labeling_needs_the_annotator_role(fake_backend, stranger, method, url):
    assert getattr(APIClient(), method)(url).status_code in {401, 403}
    response = getattr(signed_in(stranger), method)(url)
    assert response.status_code == 403
    assert "annotator" in response.json()["error"]


def test_the_queue_page_is_for_annotators(fake_backend, stranger, annotator):
    assert APIClient().get("/label/").status_code == 302  # to sign in
    assert signed_in(stranger).get("/label/").status_code == 403
    assert signed_in(annotator).get("/label/").status_code == 200


def test_the_queue_hands_annotators_photo_urls_that_only_they_can_open(fake_backend, owner, annotator):
    upload(signed_in(owner))

    (item,) = signed_in(annotator).get("/api/queue/").json()

    assert signed_in(annotator).get(item["image_url"]).status_code == 200
    assert APIClient().get(item["image_url"]).status_code == 404


def test_a_label_is_seen_and_undone_only_by_its_annotator_or_an_admin(fake_backend, owner, annotator, make_user, admin):
    created = upload(signed_in(owner))
    label = Annotation.objects.create(image_id=created["id"], label="happy", annotator=annotator)
    other_annotator = make_user("bert", annotator=True)
    url = f"/api/annotations/{label.pk}/"

    for client in (signed_in(other_annotator), signed_in(owner)):
        assert client.get(url).status_code == 404
        assert client.get(url).json() == client.get("/api/annotations/999999/").json()
        assert client.delete(url).status_code == 404
    assert Annotation.objects.filter(pk=label.pk).exists()
    assert signed_in(annotator).get(url).status_code == 200
    assert signed_in(admin).get(url).status_code == 200


def test_the_me_endpoint_names_the_roles(annotator, admin, owner):
    assert APIClient().get("/api/me/").json()["roles"] == ["uploader"]
    assert signed_in(owner).get("/api/me/").json()["roles"] == ["uploader"]
    assert signed_in(annotator).get("/api/me/").json()["roles"] == ["uploader", "annotator"]
    assert signed_in(admin).get("/api/me/").json()["roles"] == ["uploader", "annotator", "adjudicator", "admin"]


def test_a_person_creates_an_account_and_is_signed_in(client, django_user_model):
    client.get("/accounts/signup/")
    response = client.post(
        "/accounts/signup/",
        {"username": "newparent", "password1": "a-long-private-phrase-77", "password2": "a-long-private-phrase-77"},
    )

    assert response.status_code == 302
    assert django_user_model.objects.filter(username="newparent").exists()
    assert client.get("/api/me/").json()["username"] == "newparent"
    assert client.post("/accounts/signup/", {"username": "x", "password1": "1", "password2": "1"}).status_code == 400


def test_in_production_a_presigned_url_is_handed_out_only_after_the_access_check(
    settings, fake_backend, owner, stranger
):
    client = signed_in(owner)
    created = upload(client)
    settings.SERVE_MEDIA = False  # the production profile: a private S3 bucket, signing needs no network
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "infantino_site.storage.S3ImageStorage",
            "OPTIONS": {
                "bucket_name": "images",
                "endpoint_url": "http://127.0.0.1:9",
                "access_key": "k",
                "secret_key": "s",
                "region_name": "us-east-1",
                "querystring_expire": 300,
                "connect_timeout": 1,
                "read_timeout": 2,
                "max_attempts": 1,
            },
        },
    }
    route = f"/predictions/{created['id']}/image/"

    detail = client.get(f"/api/predictions/{created['id']}/").json()
    redirect = client.get(route)

    for url in (detail["image_url"], redirect["Location"]):
        assert "X-Amz-Signature" in url and "X-Amz-Expires=300" in url
    assert "no-store" in redirect["Cache-Control"]
    for other in (APIClient(), signed_in(stranger)):
        refused = other.get(route)
        assert refused.status_code == 404 and "Location" not in refused
        assert "X-Amz" not in other.get(f"/api/predictions/{created['id']}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_the_annotator_group_that_grants_labeling(django_user_model):
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    call_command("migrate", "accounts", "zero", verbosity=0)
    assert not Group.objects.filter(name="annotator").exists()
    # As on a fresh database, where Django makes permissions only after every migration has run.
    Permission.objects.filter(content_type__app_label="annotations").delete()
    call_command("migrate", "accounts", verbosity=0)

    group = Group.objects.get(name="annotator")
    assert set(group.permissions.values_list("codename", flat=True)) == {
        "add_annotation",
        "view_annotation",
        "delete_annotation",
    }
    user = django_user_model.objects.create_user("gina", password="a-long-password-for-gina")
    user.groups.add(group)
    assert signed_in(user).get("/api/me/").json()["roles"] == ["uploader", "annotator"]
