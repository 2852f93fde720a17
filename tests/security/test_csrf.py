"""Every form and every session-authenticated API call needs the CSRF token; no page opts out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

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


def test_the_upload_form_is_refused_without_its_token_and_accepted_with_it(live_model):
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


def test_deleting_without_a_token_deletes_nothing(live_model, owner):
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


def test_no_page_is_csrf_exempt_and_every_api_view_checks_the_token_for_sessions():
    exempt = []
    for route, view in walk(get_resolver().url_patterns):
        if not getattr(view, "csrf_exempt", False):
            continue
        cls = getattr(view, "cls", None)
        # DRF exempts its views from the middleware and checks the token itself in SessionAuthentication.
        if cls is not None and issubclass(cls, APIView) and SessionAuthentication in cls().authentication_classes:
            continue
        exempt.append(route)

    assert exempt == []
