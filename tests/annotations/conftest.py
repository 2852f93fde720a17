"""Labeling fixtures: annotators, images already predicted by the tiny live model, jobs run inline."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.images import jpeg_bytes


@pytest.fixture
def inline_jobs(settings):  # type: ignore[no-untyped-def]
    settings.INFANTINO_JOB_RUNNER = "inline"


@pytest.fixture
def make_annotator(django_user_model):  # type: ignore[no-untyped-def]
    """A user in the annotator group (staff with ``is_staff=True``)."""

    def make(name: str = "alice", **extra: object):  # type: ignore[no-untyped-def]
        from accounts.services import annotator_grant

        user = django_user_model.objects.create_user(username=name, password="labels-are-fun-42", **extra)
        annotator_grant(user=user)
        return user

    return make


@pytest.fixture
def alice(make_annotator):  # type: ignore[no-untyped-def]
    return make_annotator("alice")


def client_for(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def make_images(live_model):  # type: ignore[no-untyped-def]
    """``make_images(n)`` uploads n generated photos through the predict service, their parents consenting
    (``consent=False``: parents who keep them to themselves); returns their ids."""
    from predictions.services import prediction_create

    def make(n: int, *, first_seed: int = 0, consent: bool = True) -> list[str]:
        return [
            str(
                prediction_create(
                    upload=SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(size=64, seed=i)), consent=consent
                ).pk
            )
            for i in range(first_seed, first_seed + n)
        ]

    return make


@pytest.fixture
def shared_photos(fake_backend):  # type: ignore[no-untyped-def]
    """``shared_photos(n)`` uploads n generated photos their parents share, predicted by the in-memory backend."""
    from predictions.services import prediction_create

    def make(n: int, *, first_seed: int = 0) -> list[str]:
        return [
            str(prediction_create(upload=SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(size=64, seed=i)), consent=True).pk)
            for i in range(first_seed, first_seed + n)
        ]

    return make


@pytest.fixture
def make_adjudicator(django_user_model):  # type: ignore[no-untyped-def]
    """A user in the adjudicator group (which also labels)."""

    def make(name: str = "judy"):  # type: ignore[no-untyped-def]
        from accounts.services import adjudicator_grant

        user = django_user_model.objects.create_user(username=name, password="labels-are-fun-42")
        adjudicator_grant(user=user)
        return user

    return make
