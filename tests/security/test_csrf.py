"""Every form and every browser write to the API, signed in or anonymous, needs the CSRF token; no page opts out.

API clients that are no browser (curl with or without a cookie jar, HTTP Basic) need none: README's examples.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from infantino_site.authentication import CsrfSessionAuthentication
from predictions.models import Prediction
from tests.images import jpeg_bytes
from tests.security.conftest import PASSWORD, signed_in, upload

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def strict(user=None) -> Client:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("b.jpg", jpeg_bytes(size=64))


# What Chromium sends with a fetch() from one of the site's pages, and with a form posted from another site.
SAME_ORIGIN = {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://testserver"}
CROSS_SITE = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": "https://evil.example"}


def anonymous_upload(client: Client) -> str:
    """An upload as README's ``curl -c me -b me -F image=@baby.jpg``: the answer sets the session cookie."""
    response = client.post("/api/predictions/", {"image": photo()})
    assert response.status_code == 201, response.content
    assert "sessionid" in client.cookies
    return response.json()["id"]


def test_the_upload_form_is_refused_without_its_token_and_accepted_with_it(fake_backend):
    client = strict()

    assert client.post("/", {"image": photo()}).status_code == 403
    assert Prediction.objects.count() == 0

    client.get("/")
    token = client.cookies["csrftoken"].value
    assert client.post("/", {"image": photo(), "csrfmiddlewaretoken": token}).status_code == 302
    assert Prediction.objects.count() == 1


def test_signing_in_and_signing_up_without_a_token_are_refused(owner):
    assert strict().post("/accounts/login/", {"username": owner.username, "password": PASSWORD}).status_code == 403
    assert (
        strict()
        .post("/accounts/signup/", {"username": "eve", "password1": PASSWORD, "password2": PASSWORD})
        .status_code
        == 403
    )


def test_deleting_without_a_token_deletes_nothing(fake_backend, owner):
    created = upload(signed_in(owner))
    client = strict(owner)

    assert client.post(f"/predictions/{created['id']}/delete/").status_code == 403
    assert client.post("/accounts/data/", {"confirm": "yes"}).status_code == 403
    assert client.delete(f"/api/predictions/{created['id']}/").status_code == 403
    assert client.post("/api/me/delete-data/").status_code == 403
    assert Prediction.objects.filter(pk=created["id"]).exists()


def test_a_signed_in_browsers_api_calls_need_the_token(annotator, admin):
    client = strict(annotator)
    body = {"image": "00000000-0000-0000-0000-000000000000", "label": "happy"}

    refused = client.post("/api/annotations/", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]

    client.get("/label/")  # the page sets the cookie its script sends back in X-CSRFToken
    token = client.cookies["csrftoken"].value
    passed = client.post("/api/annotations/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert passed.status_code == 404  # past the CSRF check: the image does not exist
    assert strict(admin).post("/dashboard/rollback/").status_code == 403


def test_an_anonymous_browser_session_cannot_delete_or_upload_without_the_token(fake_backend):
    client = strict()
    prediction_id = anonymous_upload(client)

    for refused in (
        client.post("/api/me/delete-data/", **SAME_ORIGIN),
        client.delete(f"/api/predictions/{prediction_id}/", **SAME_ORIGIN),
        client.post("/api/predictions/", {"image": photo()}, **SAME_ORIGIN),
        client.post("/api/me/delete-data/", HTTP_REFERER="http://testserver/accounts/data/"),  # an older browser
    ):
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["error"]
    assert [str(pk) for pk in Prediction.objects.values_list("id", flat=True)] == [prediction_id]


def test_an_anonymous_browser_session_deletes_with_the_token_its_page_gives(fake_backend):
    client = strict()
    prediction_id = anonymous_upload(client)
    client.get("/")  # the page sets the cookie a script sends back in X-CSRFToken
    token = client.cookies["csrftoken"].value

    assert client.get(f"/api/predictions/{prediction_id}/", **SAME_ORIGIN).status_code == 200  # reads need none
    deleted = client.delete(f"/api/predictions/{prediction_id}/", HTTP_X_CSRFTOKEN=token, **SAME_ORIGIN)
    assert deleted.status_code == 204
    assert client.post("/api/me/delete-data/", HTTP_X_CSRFTOKEN=token, **SAME_ORIGIN).status_code == 200


def test_another_site_cannot_plant_a_photo_in_a_fresh_browser(fake_backend):
    client = strict()

    refused = client.post("/api/predictions/", {"image": photo()}, **CROSS_SITE)

    assert refused.status_code == 403
    assert Prediction.objects.count() == 0
    assert "sessionid" not in client.cookies


def test_curl_with_a_cookie_jar_uploads_reads_and_deletes_without_a_token(fake_backend):
    client = strict()  # sends the session cookie back, and none of a browser's headers
    prediction_id = anonymous_upload(client)

    assert client.get(f"/api/predictions/{prediction_id}/").status_code == 200
    assert client.delete(f"/api/predictions/{prediction_id}/").status_code == 204
    anonymous_upload(client)
    deleted = client.post("/api/me/delete-data/")
    assert deleted.status_code == 200
    assert deleted.json()["predictions"] == 1
    assert Prediction.objects.count() == 0


def test_curl_without_a_session_uploads_without_a_token(fake_backend):
    assert strict().post("/api/predictions/", {"image": photo()}).status_code == 201


def test_basic_auth_needs_no_token_even_with_a_session_cookie_and_an_origin(fake_backend, annotator):
    client = strict()
    anonymous_upload(client)
    credentials = base64.b64encode(f"{annotator.username}:{PASSWORD}".encode()).decode()
    body = {"image": "00000000-0000-0000-0000-000000000000", "label": "happy"}

    passed = client.post(
        "/api/annotations/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
        **SAME_ORIGIN,
    )

    assert passed.status_code == 404  # past authentication and CSRF: the image does not exist


def test_every_post_form_in_the_templates_carries_the_token():
    forms = []
    for template in TEMPLATES.rglob("*.html"):
        for form in re.findall(r"<form\b.*?</form>", template.read_text(), flags=re.S | re.I):
            if re.search(r"method=[\"']?post", form, flags=re.I):
                forms.append((template.name, form))

    assert len(forms) >= 8
    assert [name for name, form in forms if "{% csrf_token %}" not in form] == []


def walk(patterns: list, prefix: str = ""):  # type: ignore[no-untyped-def]
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_no_page_is_csrf_exempt_and_every_api_view_checks_the_token_for_browsers():
    exempt = []
    for route, view in walk(get_resolver().url_patterns):
        if not getattr(view, "csrf_exempt", False):
            continue
        cls = getattr(view, "cls", None)
        # DRF exempts its views from the middleware: CsrfSessionAuthentication checks the token instead.
        if cls is not None and issubclass(cls, APIView) and CsrfSessionAuthentication in cls().authentication_classes:
            continue
        exempt.append(route)

    assert exempt == []
