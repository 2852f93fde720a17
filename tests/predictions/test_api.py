from __future__ import annotations

import io
import math

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from mlcore.labels import LABELS
from predictions.models import Prediction
from tests.images import encode, face_like, jpeg_bytes, solid

pytestmark = pytest.mark.django_db


def upload(client: APIClient, data: bytes, name: str = "baby.jpg"):  # type: ignore[no-untyped-def]
    return client.post("/api/predictions/", {"image": SimpleUploadedFile(name, data)}, format="multipart")


def stored_files(media) -> list:  # type: ignore[no-untyped-def]
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_a_prediction_returns_the_contract_with_probabilities_summing_to_one(live_model, isolated_media):
    response = upload(APIClient(), jpeg_bytes())

    assert response.status_code == 201
    body = response.json()
    assert {"id", "label", "probabilities", "uncertainty", "model_version", "face_box", "image_url", "created"} <= set(
        body
    )
    assert list(body["probabilities"]) == list(LABELS)
    assert math.isclose(sum(body["probabilities"].values()), 1.0, abs_tol=1e-6)
    assert body["label"] in (*LABELS, "unsure")
    assert 0.0 <= body["uncertainty"] <= 1.0
    assert body["model_version"] == live_model
    assert len(stored_files(isolated_media)) == 1


def test_the_face_in_a_photo_is_found_and_its_box_covers_it(live_model):
    body = upload(APIClient(), jpeg_bytes(size=96)).json()

    x, y, w, h = body["face_box"]  # the drawn face is an oval from 16 to 80 px on both axes
    assert 0 <= x <= 16 < 80 <= x + w <= 96
    assert 0 <= y <= 16 < 80 <= y + h <= 96


def test_a_photo_without_a_face_is_classified_whole_with_no_face_box(live_model):
    response = upload(APIClient(), encode(solid((128, 128, 128), size=96), "JPEG"))

    assert response.status_code == 201
    assert response.json()["face_box"] is None
    assert response.json()["label"] in (*LABELS, "unsure")


def test_the_detail_endpoint_returns_the_same_object(live_model):
    client = APIClient()
    created = upload(client, jpeg_bytes()).json()

    fetched = client.get(f"/api/predictions/{created['id']}/")

    assert fetched.status_code == 200
    assert fetched.json() == created


def test_an_unknown_prediction_is_a_json_404(live_model):
    response = APIClient().get("/api/predictions/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert "error" in response.json()


def test_the_stored_image_carries_no_exif(live_model, isolated_media):
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise
    original = face_like(size=64)
    upload(APIClient(), encode(original.resize((80, 64)), "JPEG", exif=exif.tobytes()))

    (stored,) = stored_files(isolated_media)
    with Image.open(stored) as image:
        assert not image.getexif()
        assert image.size == (64, 80)  # orientation was applied before the metadata was dropped


BAD_UPLOADS = {
    "random bytes": bytes(range(256)) * 8,
    "an empty file": b"",
    "a truncated jpeg": jpeg_bytes(size=256)[:1500],
    "a text file": b"hello, this is not a photo",
}


@pytest.mark.parametrize("data", BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
def test_a_bad_upload_gets_400_with_a_reason_and_leaves_nothing_behind(live_model, isolated_media, data):
    response = upload(APIClient(), data)

    assert response.status_code == 400
    assert response.json()["error"]
    assert Prediction.objects.count() == 0
    assert stored_files(isolated_media) == []


def test_a_20000_pixel_square_png_is_refused_without_decoding_it(live_model, isolated_media):
    # A PNG header claiming 20000×20000 with a tiny compressed body: the pixel limit must stop it.
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG", optimize=True)

    response = upload(APIClient(), buffer.getvalue(), name="huge.png")

    assert response.status_code == 400
    assert "pixels" in response.json()["error"]
    assert Prediction.objects.count() == 0
    assert stored_files(isolated_media) == []


def test_a_request_without_an_image_field_gets_400(live_model):
    response = APIClient().post("/api/predictions/", {}, format="multipart")
    assert response.status_code == 400
    assert "image" in response.json()["error"]


def test_predicting_without_any_model_says_so(model_registry, isolated_media):
    response = upload(APIClient(), jpeg_bytes())

    assert response.status_code == 503
    assert "No model" in response.json()["error"]
    assert stored_files(isolated_media) == []


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/predictions/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_past_the_abstain_threshold_the_api_and_the_page_say_unsure(model_registry, tiny_extractor_id):
    from tests.conftest import tiny_head

    version = model_registry.register(
        head=tiny_head(), extractor_id=tiny_extractor_id, kind="test", abstain_threshold=0.0
    )
    model_registry.set_live(version)

    client = APIClient()  # the session that uploaded is the one that may see the page
    body = upload(client, jpeg_bytes()).json()

    assert body["label"] == "unsure"
    assert body["top_label"] in LABELS
    page = client.get(f"/predictions/{body['id']}/").content.decode()
    assert '<h1 data-testid="label">Unsure</h1>' in page
    assert f"Its best guess is <strong>{body['top_label']}</strong>" in page
