"""Every response carries the Content-Security-Policy, and no page relies on inline script or style it forbids."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from infantino_site import csp
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/predictions/{prediction}/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/data/",
    "/label/",
    "/dashboard/",
    "/dashboard/versions/{version}/",
    "/dashboard/compare/?a={version}&b={version}",
    "/api/docs/",
    "/admin/",
    "/no-such-page/",
]
# What 'unsafe-inline' would be needed for: a script without src (JSON data is not run), a <style> element,
# a style="" attribute, an on…="" handler, a javascript: URL.
INLINE = [
    re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    re.compile(r"<style\b", re.I),
    re.compile(r"<[^>]+\sstyle=", re.I),
    re.compile(r"<[^>]+\son[a-z]+=", re.I),
    re.compile(r"javascript:", re.I),
]


@pytest.fixture
def staff_annotator(django_user_model):  # type: ignore[no-untyped-def]
    from accounts.services import annotator_grant

    user = django_user_model.objects.create_user(username="root", password="p", is_staff=True, is_superuser=True)
    annotator_grant(user=user)
    return user


def test_every_page_has_the_policy_and_nothing_inline_it_would_refuse(live_model, staff_annotator):
    client = Client()
    client.force_login(staff_annotator)
    image = SimpleUploadedFile("b.jpg", jpeg_bytes(size=64))
    prediction = client.post("/api/predictions/", {"image": image}).json()["id"]

    for page in PAGES:
        response = client.get(page.format(prediction=prediction, version=live_model))
        assert response.status_code in {200, 404}, page
        assert response["Content-Type"].startswith("text/html"), page
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        html = response.content.decode()
        assert [pattern.pattern for pattern in INLINE if pattern.search(html)] == [], page


def test_api_answers_and_the_docs_script_carry_the_policy_too(client):
    for path in ("/api/models/live/", "/api/docs/?script"):
        assert client.get(path)["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_sites_websockets_are_allowed_by_name_for_browsers_before_csp_3(client, settings):
    settings.ALLOWED_HOSTS = ["infantino.example"]
    policy = client.get("/", HTTP_HOST="infantino.example", secure=True)["Content-Security-Policy"]

    assert "connect-src 'self' wss://infantino.example;" in policy


def test_photos_from_the_private_bucket_are_allowed_and_nothing_else(settings):
    settings.SERVE_MEDIA = False
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "infantino_site.storage.S3ImageStorage",
            "OPTIONS": {
                "bucket_name": "photos",
                "endpoint_url": "https://s3.example.org:9000",
                "access_key": "key",
                "secret_key": "secret",
                "region_name": "eu-west-1",
                "connect_timeout": 1,
                "read_timeout": 2,
                "max_attempts": 1,
            },
        },
    }
    csp.image_origin.cache_clear()
    try:
        assert csp.image_origin() == "https://s3.example.org:9000"
    finally:
        csp.image_origin.cache_clear()
