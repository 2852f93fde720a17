""" "Why?": the heat map over a photo's face, for whoever may see the photo, computed once per model version."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def upload(client: APIClient, seed: int = 1) -> dict:
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(size=64, seed=seed))
    response = client.post("/api/predictions/", {"image": photo}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def saliency_url(prediction_id: str) -> str:
    return f"/predictions/{prediction_id}/saliency.png"


def test_the_uploader_gets_a_private_png_explaining_the_models_answer(fake_backend):
    client = APIClient()
    prediction = upload(client)

    response = client.get(saliency_url(prediction["id"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    assert response["X-Explained-Label"] == prediction["top_label"]
    picture = Image.open(io.BytesIO(response.content))
    assert picture.format == "PNG" and picture.width >= 64


def test_someone_elses_photo_reads_as_no_photo_at_all(fake_backend, django_user_model):
    prediction = upload(APIClient())
    stranger = APIClient()
    stranger.force_login(django_user_model.objects.create_user(username="stranger", password="not-the-parent-42"))

    assert stranger.get(saliency_url(prediction["id"])).status_code == 404
    assert APIClient().get(saliency_url(prediction["id"])).status_code == 404
    assert fake_backend.explained == 0


def test_predicting_computes_no_heat_map_and_asking_twice_computes_one(fake_backend):
    client = APIClient()
    prediction = upload(client)
    assert fake_backend.explained == 0

    first = client.get(saliency_url(prediction["id"]))
    second = client.get(saliency_url(prediction["id"]))

    assert first.content == second.content
    assert fake_backend.explained == 1


def test_a_new_live_version_explains_the_photo_afresh(fake_backend):
    client = APIClient()
    prediction = upload(client)
    client.get(saliency_url(prediction["id"]))
    newer = fake_backend.add_version(kind="test", label="sad")
    fake_backend.set_live(newer, by="tests")

    response = client.get(saliency_url(prediction["id"]))

    assert response["X-Model-Version"] == newer
    assert fake_backend.explained == 2


def test_without_a_live_model_the_heat_map_is_unavailable_not_an_error(fake_backend):
    client = APIClient()
    prediction = upload(client)
    fake_backend.live = None

    response = client.get(saliency_url(prediction["id"]))

    assert response.status_code == 503
    assert "No model" in response.content.decode()


def test_the_result_page_offers_why_and_names_the_heat_map_url(fake_backend):
    client = APIClient()
    prediction = upload(client)

    page = client.get(f"/predictions/{prediction['id']}/").content.decode()

    assert 'data-testid="why"' in page
    assert f'data-saliency-src="{saliency_url(prediction["id"])}"' in page
    assert "js/saliency.js" in page


def test_the_real_model_explains_its_answer_on_a_photo(live_model):
    client = APIClient()
    prediction = upload(client, seed=7)

    response = client.get(saliency_url(prediction["id"]))

    assert response.status_code == 200
    assert response["X-Explained-Label"] == prediction["top_label"]
    assert response["X-Model-Version"] == live_model
    assert Image.open(io.BytesIO(response.content)).size[0] >= 128
