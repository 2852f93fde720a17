"""GET /api/predictions/: the caller's own predictions, newest first, a page at a time in DRF's shape."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from predictions.models import Prediction
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def post(client: APIClient, seed: int = 0):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("b.jpg", jpeg_bytes(size=32, seed=seed))
    return client.post("/api/predictions/", {"image": upload}, format="multipart")


def uploads(client: APIClient, count: int) -> list[str]:
    """Upload ``count`` photos; their ids, oldest first."""
    ids = []
    for seed in range(count):
        response = post(client, seed)
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


@pytest.fixture
def signed_in(django_user_model) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(django_user_model.objects.create_user("olga"))
    return client


def test_the_list_shows_only_my_predictions_newest_first_as_the_upload_answered_them(signed_in, fake_backend):
    mine = uploads(signed_in, 3)
    uploads(APIClient(), 2)  # someone else's session

    page = signed_in.get("/api/predictions/")

    assert page.status_code == 200
    body = page.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3 and body["next"] is None and body["previous"] is None
    assert [item["id"] for item in body["results"]] == mine[::-1]
    single = signed_in.get(f"/api/predictions/{mine[-1]}/").json()
    assert body["results"][0] == single  # each item is the PredictionOutput the detail answers


def test_an_anonymous_browser_session_lists_its_own_uploads_and_a_stranger_none(fake_backend):
    visitor = APIClient()
    mine = uploads(visitor, 2)

    assert [item["id"] for item in visitor.get("/api/predictions/").json()["results"]] == mine[::-1]
    assert APIClient().get("/api/predictions/").json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_pages_follow_page_size_with_next_and_previous_links(signed_in, fake_backend):
    mine = uploads(signed_in, 5)[::-1]

    first = signed_in.get("/api/predictions/", {"page_size": 2}).json()
    second = signed_in.get(first["next"]).json()
    last = signed_in.get(second["next"]).json()

    assert first["count"] == 5 and first["previous"] is None
    assert [item["id"] for item in first["results"] + second["results"] + last["results"]] == mine
    assert second["previous"] is not None and last["next"] is None
    assert signed_in.get("/api/predictions/", {"page": 9}).status_code == 404


def test_page_size_defaults_to_20_and_is_capped_at_100(signed_in, fake_backend):
    template = post(signed_in).json()
    original = Prediction.objects.get(pk=template["id"])
    for _ in range(104):  # rows as an upload writes them, without paying for 104 uploads
        original.pk = None
        original.save(force_insert=True)

    default = signed_in.get("/api/predictions/").json()
    largest = signed_in.get("/api/predictions/", {"page_size": 1000}).json()

    assert default["count"] == 105 and len(default["results"]) == 20
    assert len(largest["results"]) == 100 and largest["next"] is not None


def test_listing_spends_none_of_the_upload_allowance(settings, fake_backend):
    settings.INFANTINO_THROTTLE = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "uploads": "1/min"},
    }
    cache.clear()
    client = APIClient()
    lists = [client.get("/api/predictions/").status_code for _ in range(3)]
    first, second = post(client, 1), post(client, 2)
    cache.clear()

    assert lists == [200, 200, 200]
    assert first.status_code == 201 and second.status_code == 429
