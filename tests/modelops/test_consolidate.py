"""Staff consolidate the live line from the dashboard; nobody else can."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Annotation
from modelops.models import ModelChange
from predictions.services import prediction_create
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def one_learned_label(settings, fake_backend, django_user_model) -> Annotation:  # type: ignore[no-untyped-def]
    settings.INFANTINO_JOB_RUNNER = "inline"
    photo = prediction_create(upload=SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1)), consent=True)
    someone = django_user_model.objects.create_user("ann", password="labels-are-fun-42")
    return Annotation.objects.create(image=photo, label="happy", annotator=someone, status=Annotation.Status.LEARNED)


def test_staff_consolidate_from_the_dashboard_and_the_audit_names_them(client, staff, fake_backend, one_learned_label):
    before = fake_backend.live_version()

    response = client.post("/dashboard/consolidate/")

    assert response.status_code == 302 and response.url == "/dashboard/"
    change = ModelChange.objects.get(action=ModelChange.Action.CONSOLIDATE)
    assert (change.previous_version, change.user) == (before, staff)
    assert fake_backend.live_version() == change.version
    page = client.get("/dashboard/").content.decode()
    assert 'id="consolidate"' in page and "Consolidation started" in page
    assert "consolidation: every label so far (1)" in page


@pytest.mark.parametrize("signed_in", [True, False])
def test_only_staff_may_consolidate(client, django_user_model, fake_backend, one_learned_label, signed_in):
    if signed_in:  # but not staff
        client.force_login(django_user_model.objects.create_user("bob", password="a-long-password"))

    response = client.post("/dashboard/consolidate/")

    assert response.status_code == 302 and "/login" in response.url
    assert not ModelChange.objects.exists()


def test_consolidation_is_asked_for_with_a_post_only(client, staff, fake_backend, one_learned_label):
    assert client.get("/dashboard/consolidate/").status_code == 405
    assert not ModelChange.objects.exists()
