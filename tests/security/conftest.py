"""People in each role, and photos they uploaded through the API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.images import jpeg_bytes

PASSWORD = "a-long-and-private-password-42"


@pytest.fixture
def make_user(django_user_model):  # type: ignore[no-untyped-def]
    def make(name: str, *, annotator: bool = False, staff: bool = False):  # type: ignore[no-untyped-def]
        from accounts.services import annotator_grant

        user = django_user_model.objects.create_user(username=name, password=PASSWORD, is_staff=staff)
        if annotator:
            annotator_grant(user=user)
        return user

    return make


@pytest.fixture
def owner(make_user):  # type: ignore[no-untyped-def]
    return make_user("olga")


@pytest.fixture
def stranger(make_user):  # type: ignore[no-untyped-def]
    return make_user("sam")


@pytest.fixture
def annotator(make_user):  # type: ignore[no-untyped-def]
    return make_user("anna", annotator=True)


@pytest.fixture
def admin(make_user):  # type: ignore[no-untyped-def]
    return make_user("root", staff=True)


def signed_in(user) -> APIClient:  # type: ignore[no-untyped-def]
    """A browser-like client: signed in through its session, as the pages are."""
    client = APIClient()
    client.force_login(user)
    return client


def upload(client: APIClient, seed: int = 0, *, consent: bool = True) -> dict:
    """A parent's upload, shared for labeling unless ``consent=False``."""
    response = client.post(
        "/api/predictions/",
        {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(size=64, seed=seed)), "consent": consent},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()
