"""The labeling workflow around the queue: progress, skips kept on the server, time per label, blind mode."""

from __future__ import annotations

import pytest

from annotations.models import Annotation, LabelingSettings
from tests.annotations.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def label(client, image: str, name: str, **extra: object):  # type: ignore[no-untyped-def]
    return client.post("/api/annotations/", {"image": image, "label": name, **extra}, format="json")


def queue_ids(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["id"] for item in client.get("/api/queue/?n=50").json()]


def test_progress_counts_decided_remaining_unusable_and_my_own_labels(settings, shared_photos, make_annotator):
    settings.INFANTINO_LABELS_PER_IMAGE = 2
    alice, bob = client_for(make_annotator("alice")), client_for(make_annotator("bob"))
    first, second, third, fourth = shared_photos(4)

    label(alice, first, "happy")
    label(bob, first, "happy")  # a majority of two: decided
    label(alice, second, "sad")  # one vote of the two needed: still to label
    bob.post("/api/queue/unusable/", {"image": third, "reason": "no_face"}, format="json")

    mine = alice.get("/api/queue/progress/").json()
    assert mine == {"total": 3, "labeled": 1, "remaining": 2, "percent": 33, "unusable": 1, "mine": 2, "skipped": 0}
    assert bob.get("/api/queue/progress/").json()["mine"] == 1
    assert fourth in queue_ids(alice)


def test_a_skip_is_kept_on_the_server_until_the_annotator_brings_skips_back(shared_photos, make_annotator):
    alice_user = make_annotator("alice")
    photos = shared_photos(3)

    response = client_for(alice_user).post("/api/queue/skips/", {"image": photos[0]}, format="json")

    assert response.status_code == 201
    assert response.json()["skipped"] == 1
    assert photos[0] not in queue_ids(client_for(alice_user))  # a new client: nothing held in the page
    assert photos[0] in queue_ids(client_for(make_annotator("bob")))  # only alice skipped it
    assert client_for(alice_user).post("/api/queue/skips/", {"image": photos[0]}, format="json").status_code == 201
    assert client_for(alice_user).get("/api/queue/progress/").json()["skipped"] == 1  # twice is still one skip

    brought_back = client_for(alice_user).delete("/api/queue/skips/")

    assert brought_back.status_code == 200
    assert brought_back.json()["skipped"] == 0
    assert set(queue_ids(client_for(alice_user))) == set(photos)


def test_skipping_an_unknown_image_is_a_404(shared_photos, alice):
    shared_photos(1)
    for image in ["00000000-0000-0000-0000-000000000000", "not-an-id", ""]:
        assert client_for(alice).post("/api/queue/skips/", {"image": image}, format="json").status_code == 404


def test_the_time_to_label_is_stored_and_must_lie_between_0_and_3600_seconds(shared_photos, alice):
    first, second = shared_photos(2)
    client = client_for(alice)

    for refused in (-1, 3601, "soon"):
        response = label(client, first, "happy", seconds=refused)
        assert response.status_code == 400
        assert "seconds" in response.json()["error"]
    assert label(client, first, "happy", seconds=12.5).json()["seconds"] == 12.5
    assert label(client, second, "sad").status_code == 201  # an older page sends no time

    assert dict(Annotation.objects.values_list("label", "seconds")) == {"happy": 12.5, "sad": None}


MODEL_VIEW = ("guess", "probabilities", "uncertainty")


def test_project_blind_mode_sends_no_guess_probabilities_or_uncertainty_and_keeps_the_order(
    shared_photos, make_annotator
):
    shared_photos(5)
    staff, alice = client_for(make_annotator("boss", is_staff=True)), client_for(make_annotator("alice"))
    seeing = alice.get("/api/queue/?n=5").json()
    assert all(item["guess"] and item["probabilities"] for item in seeing)

    turned = staff.patch("/api/queue/blind/", {"project": True}, format="json")

    assert turned.json() == {"project": True, "mine": False, "blind": True}
    response = alice.get("/api/queue/?n=5")
    blind = response.json()
    assert [item["id"] for item in blind] == [item["id"] for item in seeing]  # still most uncertain first
    assert all(item[field] is None for item in blind for field in MODEL_VIEW)
    assert all(f'"{label}":' not in response.content.decode() for label in seeing[0]["probabilities"])


def test_an_annotators_own_blind_toggle_hides_the_guess_from_them_only(shared_photos, make_annotator):
    shared_photos(2)
    alice, bob = client_for(make_annotator("alice")), client_for(make_annotator("bob"))

    assert alice.patch("/api/queue/blind/", {"mine": True}, format="json").json()["blind"] is True

    assert all(item[field] is None for item in alice.get("/api/queue/").json() for field in MODEL_VIEW)
    assert all(item["guess"] for item in bob.get("/api/queue/").json())
    assert bob.get("/api/queue/blind/").json() == {"project": False, "mine": False, "blind": False}
    alice.patch("/api/queue/blind/", {"mine": False}, format="json")
    assert all(item["guess"] for item in alice.get("/api/queue/").json())


def test_only_staff_turn_the_projects_blind_mode_on(shared_photos, alice):
    response = client_for(alice).patch("/api/queue/blind/", {"project": True}, format="json")

    assert response.status_code == 403
    assert not LabelingSettings.objects.filter(blind=True).exists()


def test_the_labeling_page_shows_a_progress_bar_and_hides_the_model_panel_in_blind_mode(
    client, shared_photos, make_annotator
):
    shared_photos(2)
    alice = make_annotator("alice")
    client.force_login(alice)

    page = client.get("/label/").content.decode()

    assert 'role="progressbar"' in page
    assert 'aria-valuemin="0" aria-valuemax="2" aria-valuenow="0"' in page
    assert '<div id="queue-model" >' in page
    client_for(alice).patch("/api/queue/blind/", {"mine": True}, format="json")
    assert '<div id="queue-model" hidden>' in client.get("/label/").content.decode()


def test_staff_turn_project_blind_mode_on_in_the_admin(client, make_annotator):
    boss = make_annotator("boss", is_staff=True, is_superuser=True)
    client.force_login(boss)

    response = client.post("/admin/annotations/labelingsettings/add/", {"blind": "on"})

    assert response.status_code == 302
    assert LabelingSettings.objects.get().blind is True
    assert client_for(make_annotator("alice")).get("/api/queue/blind/").json()["blind"] is True
    assert client.get("/admin/annotations/adjudication/").status_code == 200
