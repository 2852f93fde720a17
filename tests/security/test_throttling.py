"""Past its rate a client gets 429 with the API's error body; others are unaffected; a dead cache throttles nothing."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from predictions.models import Prediction
from tests.images import jpeg_bytes
from tests.security.conftest import signed_in
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):  # type: ignore[no-untyped-def]
    """Throttling on (the test environment turns it off) with small rates; returns them to change."""
    settings.INFANTINO_THROTTLE = True
    rates = {"anon": "5/min", "user": "5/min", "uploads": "2/min", "labels": "1/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()
    yield rates
    cache.clear()


def not_a_photo() -> dict:
    return {"image": SimpleUploadedFile("b.jpg", b"not a photo")}


def test_uploads_past_their_rate_get_429_with_an_error_and_a_retry_after(rates, live_model):
    client = APIClient()
    first = client.post("/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=64))})
    second = client.post("/api/predictions/", not_a_photo())

    third = client.post("/api/predictions/", {"image": SimpleUploadedFile("c.jpg", jpeg_bytes(size=64, seed=1))})

    assert (first.status_code, second.status_code, third.status_code) == (201, 400, 429)
    assert set(third.json()) == {"error"} and "throttled" in third.json()["error"]
    assert int(third["Retry-After"]) > 0
    assert Prediction.objects.count() == 1  # the refused upload stored nothing


def test_another_client_is_not_held_back_and_a_forged_forwarded_for_does_not_help(rates, model_registry):
    for _ in range(2):
        APIClient().post("/api/predictions/", not_a_photo(), REMOTE_ADDR="10.0.0.1")

    forged = APIClient().post(
        "/api/predictions/", not_a_photo(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    other = APIClient().post("/api/predictions/", not_a_photo(), REMOTE_ADDR="10.0.0.2")

    assert forged.status_code == 429
    assert other.status_code == 400  # judged on its content, not throttled


def test_every_api_call_counts_against_the_anonymous_rate(rates, model_registry):
    codes = [APIClient().get("/api/models/live/").status_code for _ in range(6)]
    assert codes == [404] * 5 + [429]


def test_labels_have_their_own_stricter_rate(rates, annotator):
    client = APIClient()
    client.force_authenticate(annotator)
    body = {"image": "00000000-0000-0000-0000-000000000000", "label": "happy"}

    assert client.post("/api/annotations/", body, format="json").status_code == 404
    assert client.post("/api/annotations/", body, format="json").status_code == 429
    assert client.get("/api/me/").status_code == 200  # other calls still go through


def test_the_upload_page_is_throttled_too(rates, live_model, client):
    client.get("/")
    token = client.cookies["csrftoken"].value
    codes = [client.post("/", {**not_a_photo(), "csrfmiddlewaretoken": token}).status_code for _ in range(3)]

    assert codes == [400, 400, 429]
    page = client.post("/", {**not_a_photo(), "csrfmiddlewaretoken": token})
    assert "Too many uploads" in page.content.decode()


def test_heat_maps_count_against_the_upload_rate(rates, fake_backend):
    client = APIClient()
    photo = client.post("/api/predictions/", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes(size=64))}).json()

    codes = [client.get(f"/predictions/{photo['id']}/saliency.png").status_code for _ in range(2)]

    assert codes == [200, 429]  # the upload was the first of two a minute


@pytest.fixture
def dead_cache(rates, settings):  # type: ignore[no-untyped-def]
    """The cache (Redis in production) on a port where nothing listens."""
    working = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/6",
        }
    }
    yield
    settings.CACHES = working


def test_with_the_throttle_cache_down_requests_are_still_served(dead_cache, model_registry, annotator):
    codes = [APIClient().post("/api/predictions/", not_a_photo()).status_code for _ in range(4)]

    assert codes == [400] * 4  # counted nowhere, so never refused, and never a 500
    assert signed_in(annotator).get("/api/me/").status_code == 200
