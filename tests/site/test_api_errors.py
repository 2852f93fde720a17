"""Every API error is ``{"error": ...}`` in words a person understands; a service that is down is a 503."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import NotFound, ValidationError

from common.api_errors import ServiceUnavailable, error, error_handler


def test_a_service_that_is_down_answers_503_asking_to_come_back_later():
    response = error_handler(ServiceUnavailable("The image store cannot be reached right now."), {})

    assert response.status_code == 503
    assert response.data == {"error": "The image store cannot be reached right now."}
    assert response["Retry-After"] == "30"


def test_a_refused_field_is_named_in_the_one_error_message():
    response = error_handler(ValidationError({"image": ["No file was submitted."]}), {})

    assert response.status_code == 400
    assert response.data == {"error": "image: No file was submitted."}


def test_drf_errors_keep_their_status_and_say_their_detail():
    response = error_handler(NotFound("No prediction has this id."), {})

    assert response.status_code == 404
    assert response.data == {"error": "No prediction has this id."}


def test_a_view_answers_an_error_in_the_same_shape():
    response = error("Only annotators can do this.", 403)

    assert response.status_code == 403
    assert response.data == {"error": "Only annotators can do this."}


def test_anything_else_is_left_to_django_as_a_server_error():
    assert error_handler(KeyError("bug"), {}) is None


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/no-such-thing/", "/api/predictions/extra/deep/path/", "/api/"])
def test_an_unknown_api_path_answers_a_json_404_in_the_one_error_shape(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": f"There is no API endpoint at {path}; the endpoints are listed at /api/docs/."}


@pytest.mark.django_db
def test_an_unknown_page_is_still_a_page_and_a_path_like_the_api_is_not_the_api(client):
    for path in ("/no-such-page/", "/apiary/"):
        response = client.get(path)

        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_the_path_is_quoted_back_escaped_and_short(client):
    response = client.get("/api/" + "<b>" * 100)

    message = response.json()["error"]
    assert "<b>" not in message and "&lt;b&gt;" in message
    assert message.endswith("…; the endpoints are listed at /api/docs/.")
