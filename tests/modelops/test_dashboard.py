"""The model-version dashboard: staff only; it lists, details, compares, promotes and rolls back versions."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from modelops.models import ModelChange
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_version(fake_backend) -> str:  # type: ignore[no-untyped-def]
    return fake_backend.add_version(parent=fake_backend.live_version(), label="happy", infant_accuracy=0.6)


def predicted_version() -> str:
    response = APIClient().post(
        "/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())}, format="multipart"
    )
    assert response.status_code == 201
    return response.json()["model_version"]


def test_the_dashboard_is_for_staff_only(client, django_user_model, fake_backend):
    assert client.get("/dashboard/").status_code == 302  # to the sign-in page
    client.force_login(django_user_model.objects.create_user("parent", password="a-long-password"))
    assert client.get("/dashboard/").status_code == 302
    assert client.post("/dashboard/promote/", {"version": fake_backend.live_version()}).status_code == 302
    assert not ModelChange.objects.exists()


def test_the_dashboard_lists_every_version_with_its_metrics_and_marks_the_live_one(client, staff, second_version):
    page = client.get("/dashboard/").content.decode()

    assert f'data-version="{second_version}"' in page
    assert 'class="live" data-version="1"' in page
    assert "0.600" in page  # infant accuracy of the second version
    assert "<svg" in page and "polyline" in page  # the accuracy chart, rendered on the server


def test_the_dashboard_says_how_often_labels_start_a_retrain(client, staff, fake_backend, settings):
    settings.INFANTINO_RETRAIN_EVERY = 100
    assert "It starts by itself every 100 labeled images: " in client.get("/dashboard/").content.decode()

    settings.INFANTINO_RETRAIN_EVERY = 0
    assert "It starts only from here (INFANTINO_RETRAIN_EVERY is 0)." in client.get("/dashboard/").content.decode()


def test_every_page_links_to_the_dashboard_for_staff(client, staff, fake_backend):
    assert f'href="{reverse("modelops:dashboard")}"' in client.get("/").content.decode()


def test_promote_and_rollback_change_the_version_predictions_report(client, staff, fake_backend, second_version):
    first = fake_backend.live_version()
    assert predicted_version() == first

    client.post("/dashboard/promote/", {"version": second_version, "reason": "better on infants"})
    assert predicted_version() == second_version

    client.post("/dashboard/rollback/", {"reason": "parents complained"})
    assert predicted_version() == first

    promote, rollback = reversed(ModelChange.objects.all())
    assert (promote.action, promote.version, promote.previous_version, promote.user, promote.reason) == (
        "promote",
        second_version,
        first,
        staff,
        "better on infants",
    )
    assert (rollback.action, rollback.version, rollback.previous_version) == ("rollback", first, second_version)
    assert (second_version, "admin") in fake_backend.moves  # the alias records who promoted it


def test_promoting_an_unknown_version_changes_nothing(client, staff, fake_backend):
    live = fake_backend.live_version()

    response = client.post("/dashboard/promote/", {"version": "999"}, follow=True)

    assert "There is no model version 999." in response.content.decode()
    assert fake_backend.live_version() == live
    assert not ModelChange.objects.exists()


def test_version_detail_shows_lineage_and_compare_shows_both(client, staff, fake_backend, second_version):
    first = fake_backend.live_version()
    detail = client.get(f"/dashboard/versions/{second_version}/").content.decode()
    assert f"v{second_version}</a> ← <a" in detail and f"v{first}</a>" in detail

    compare = client.get(f"/dashboard/compare/?a={first}&b={second_version}")
    assert compare.status_code == 200
    page = compare.content.decode()
    assert f"Version {first}" in page and f"Version {second_version}" in page


def test_version_detail_says_what_an_online_version_learned_and_lists_its_parameters_and_tags(
    client, staff, fake_backend
):
    learned = fake_backend.add_version(
        kind="online", parent=fake_backend.live_version(), tags={"label": "sad", "annotation_ids": "4,5"}
    )

    page = client.get(f"/dashboard/versions/{learned}/").content.decode()

    assert "learned from sad (annotation 4,5)" in page
    assert "<tr><th>kind</th><td>online</td></tr>" in page and "<tr><th>label</th><td>sad</td></tr>" in page


def test_an_unknown_version_or_an_incomplete_comparison_is_a_404(client, staff, fake_backend):
    assert client.get("/dashboard/versions/999/").status_code == 404
    assert client.get(f"/dashboard/compare/?a={fake_backend.live_version()}").status_code == 404
