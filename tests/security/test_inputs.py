"""Whatever a client sends to an API write — any shape, type or size — the answer is a JSON ``{"error": …}`` 4xx
that names the field and quotes at most a short, escaped excerpt; never an HTML page, never a logged traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotations.models import Annotation
from predictions.models import Prediction
from tests.images import jpeg_bytes
from tests.security.conftest import signed_in, upload

pytestmark = pytest.mark.django_db

TWENTY_MB = 20 * 1024 * 1024
HOSTILE_LABEL = "<script>" * 1250  # 10 KB
NOT_AN_OBJECT = {"a JSON list": [1, 2], "a string": "happy", "a number": 42, "null": None}
Endpoint = tuple[APIClient, str, str]  # a client allowed to use it, the method, the URL


def upload_a_photo(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return APIClient(), "post", "/api/predictions/"


def share_my_photo(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    client = APIClient()
    return client, "patch", f"/api/predictions/{upload(client)['id']}/"


def delete_my_photo(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    client = APIClient()
    return client, "delete", f"/api/predictions/{upload(client)['id']}/"


def label_an_image(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return signed_in(annotator), "post", "/api/annotations/"


def undo_my_label(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    image = Prediction.objects.get(pk=upload(APIClient())["id"])
    label = Annotation.objects.create(image=image, label="happy", annotator=annotator)
    return signed_in(annotator), "delete", f"/api/annotations/{label.pk}/"


def upload_a_labeled_photo(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return signed_in(annotator), "post", "/api/labeled-images/"


def delete_my_data(annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return APIClient(), "post", "/api/me/delete-data/"


WRITES: dict[str, Callable[..., Endpoint]] = {
    "upload a photo": upload_a_photo,
    "share my photo": share_my_photo,
    "delete my photo": delete_my_photo,
    "label an image": label_an_image,
    "undo my label": undo_my_label,
    "upload a labeled photo": upload_a_labeled_photo,
    "delete my data": delete_my_data,
}
DELETES = {name: WRITES[name] for name in ["delete my photo", "undo my label"]}
WITH_A_BODY = {name: write for name, write in WRITES.items() if name not in DELETES}


@pytest.fixture(params=WRITES.values(), ids=WRITES.keys())
def write(request, fake_backend, annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return request.param(annotator)


@pytest.fixture(params=WITH_A_BODY.values(), ids=WITH_A_BODY.keys())
def endpoint_with_a_body(request, fake_backend, annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return request.param(annotator)


@pytest.fixture(params=DELETES.values(), ids=DELETES.keys())
def delete_endpoint(request, fake_backend, annotator) -> Endpoint:  # type: ignore[no-untyped-def]
    return request.param(annotator)


def send_json(endpoint: Endpoint, body: object):  # type: ignore[no-untyped-def]
    client, method, url = endpoint
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def refusal(response, *codes: int) -> str:  # type: ignore[no-untyped-def]
    """The error message of a JSON refusal with one of ``codes``."""
    assert response.status_code in (codes or (400,)), response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert len(body["error"]) <= 400
    return body["error"]


def assert_no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == []


@pytest.mark.parametrize("body", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_body_that_is_not_an_object_gets_a_json_4xx_at_every_write(write, body, caplog):
    error = refusal(send_json(write, body), 400, 415)

    assert "Traceback" not in error
    assert_no_traceback_logged(caplog)


@pytest.mark.parametrize("body", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_delete_with_a_body_that_is_not_an_object_deletes_nothing(delete_endpoint, body):
    before = Prediction.objects.count(), Annotation.objects.count()

    refusal(send_json(delete_endpoint, body))

    assert (Prediction.objects.count(), Annotation.objects.count()) == before


def test_a_label_with_nested_junk_names_both_fields_and_stores_nothing(fake_backend, annotator, caplog):
    response = send_json(label_an_image(annotator), {"image": {"a": [1]}, "label": ["x"]})

    error = refusal(response)
    assert "image:" in error and "label:" in error
    assert Annotation.objects.count() == 0
    assert_no_traceback_logged(caplog)


def test_sharing_my_photo_with_a_nested_consent_flag_names_it_and_changes_nothing(fake_backend, annotator, caplog):
    share = share_my_photo(annotator)
    shared = Prediction.objects.get().consent

    error = refusal(send_json(share, {"consent": {"a": [1]}}))

    assert "consent" in error
    assert Prediction.objects.get().consent == shared
    assert_no_traceback_logged(caplog)


def test_delete_my_data_with_a_nested_account_flag_names_it_and_deletes_nothing(fake_backend, caplog):
    client = APIClient()
    upload(client)

    error = refusal(client.post("/api/me/delete-data/", {"account": {"a": [1]}}, format="json"))

    assert "account" in error
    assert Prediction.objects.count() == 1
    assert_no_traceback_logged(caplog)


@pytest.mark.parametrize("endpoint", [upload_a_photo, upload_a_labeled_photo], ids=["photo", "labeled photo"])
def test_an_upload_whose_image_is_not_a_file_names_the_field(fake_backend, annotator, endpoint, caplog):
    client, _, url = endpoint(annotator)

    error = refusal(client.post(url, {"image": "{'a': [1]}", "label": ["x", "y"]}, format="multipart"))

    assert "image" in error
    assert Prediction.objects.count() == 0
    assert_no_traceback_logged(caplog)


def test_a_20_mb_form_field_gets_a_json_413_at_every_write_that_takes_a_body(endpoint_with_a_body, caplog):
    client, method, url = endpoint_with_a_body
    before = list(Prediction.objects.values_list("pk", "consent"))
    fields = {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=32)), "label": "x" * TWENTY_MB, "consent": "true"}

    response = getattr(client, method)(url, fields, format="multipart")

    assert "too large" in refusal(response, 413)
    assert list(Prediction.objects.values_list("pk", "consent")) == before
    assert_no_traceback_logged(caplog)


def test_a_20_mb_json_body_gets_a_json_413(fake_backend, annotator, caplog):
    response = send_json(label_an_image(annotator), {"image": "x", "label": "x" * TWENTY_MB})

    assert "too large" in refusal(response, 413)
    assert_no_traceback_logged(caplog)


def test_a_10_kb_label_is_quoted_back_only_as_a_short_escaped_excerpt(fake_backend, annotator, caplog):
    image = upload(APIClient())["id"]

    error = refusal(send_json(label_an_image(annotator), {"image": image, "label": HOSTILE_LABEL}))

    assert error.startswith("label:")
    assert "<script>" not in error and "&lt;script&gt;" in error
    assert len(error) < 200
    assert Annotation.objects.count() == 0
    assert_no_traceback_logged(caplog)


def test_a_10_kb_label_on_a_labeled_upload_stores_no_photo(fake_backend, annotator, isolated_media, caplog):
    client, _, url = upload_a_labeled_photo(annotator)
    photo = SimpleUploadedFile("b.jpg", jpeg_bytes(size=32))

    error = refusal(client.post(url, {"image": photo, "label": HOSTILE_LABEL}, format="multipart"))

    assert error.startswith("label:") and "<script>" not in error and len(error) < 200
    assert Prediction.objects.count() == 0
    assert not [p for p in isolated_media.rglob("*") if p.is_file()]
    assert_no_traceback_logged(caplog)


def test_a_10_kb_image_id_is_refused_by_its_length_without_echoing_it(fake_backend, annotator):
    error = refusal(send_json(label_an_image(annotator), {"image": "9" * 10_000, "label": "happy"}))

    assert error.startswith("image:") and "9" * 50 not in error


def test_an_unknown_label_still_names_what_was_sent_and_what_is_accepted(fake_backend, annotator):
    image = upload(APIClient())["id"]

    error = refusal(send_json(label_an_image(annotator), {"image": image, "label": "bored"}))

    assert "bored" in error and "happy" in error


@pytest.mark.parametrize(
    "body", [b'{"image": ', b"[" * 100_000, b"\xff\xfe not utf-8"], ids=["truncated", "nested deep", "not utf-8"]
)
def test_a_body_that_is_not_json_at_all_gets_a_json_400(fake_backend, annotator, body, caplog):
    response = signed_in(annotator).post("/api/annotations/", data=body, content_type="application/json")

    assert "could not be read" in refusal(response)
    assert_no_traceback_logged(caplog)


def test_an_odd_content_type_is_quoted_back_only_as_an_excerpt(fake_backend, annotator):
    content_type = "text/<script>" + "x" * 10_000

    response = signed_in(annotator).post("/api/annotations/", data=b"label=happy", content_type=content_type)

    error = refusal(response, 415)
    assert "<script>" not in error and "x" * 50 not in error


def test_the_api_answers_json_when_a_body_passes_data_upload_max_memory_size(settings, fake_backend, annotator, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client, _, url = label_an_image(annotator)
    big = "x" * 2000

    as_json = client.post(url, {"image": "x", "label": big}, format="json")
    as_form = client.post(url, f"image=x&label={big}", content_type="application/x-www-form-urlencoded")
    as_multipart = APIClient().post("/api/predictions/", {"note": big}, format="multipart")

    for response in (as_json, as_form, as_multipart):
        assert "at most 1000 bytes" in refusal(response, 413)
    assert_no_traceback_logged(caplog)


def test_too_many_form_fields_get_a_json_400(settings, fake_backend, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"field{i}": "x" for i in range(20)}

    response = APIClient().post("/api/predictions/", fields, format="multipart")

    assert "more than 10 fields" in refusal(response)
    assert_no_traceback_logged(caplog)


@pytest.mark.parametrize(
    "url",
    ["/api/annotations/" + "9" * 40 + "/", "/api/predictions/" + "<b>" * 3000 + "/"],
    ids=["a huge label id", "a 10 kb photo id"],
)
def test_a_delete_of_a_junk_id_is_a_json_404(fake_backend, annotator, url, caplog):
    error = refusal(signed_in(annotator).delete(url), 404)

    assert "<b>" not in error
    assert_no_traceback_logged(caplog)
