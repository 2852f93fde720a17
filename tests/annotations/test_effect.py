"""An annotator sees what their labels did: the live model's infant accuracy now against when they started, and
how many of their labels were learned, held back (and why) or flagged as a likely mistake."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotations.models import Annotation
from tests.annotations.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def label(client, image: str, name: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/api/annotations/", {"image": image, "label": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_before_any_label_the_effect_is_empty_and_names_no_start(fake_backend, alice):
    effect = client_for(alice).get("/api/queue/effect/").json()

    assert (effect["labels"], effect["learned"], effect["held_back"], effect["suspect"]) == (0, 0, 0, 0)
    assert effect["started_version"] is None and effect["change_points"] is None
    assert effect["live_version"] == fake_backend.live_version()


def test_it_compares_the_live_accuracy_with_the_version_live_at_the_first_label_and_counts_each_fate(
    fake_backend, alice, make_annotator, shared_photos
):
    start = fake_backend.live_version()
    images = shared_photos(4)
    client = client_for(alice)
    learned = [label(client, images[0], "happy"), label(client, images[1], "sad")]
    fake_backend.hold_back = True
    held = label(client, images[2], "fear")
    label(client_for(make_annotator("bob")), images[3], "angry")  # someone else's label is not theirs
    fake_backend.versions_made[fake_backend.live_version()].metrics["infant_accuracy"] = 0.62
    Annotation.objects.filter(pk=learned[0]["id"]).update(
        suspect_note="disagrees with the model", suspect_since=timezone.now()
    )

    effect = client.get("/api/queue/effect/").json()

    assert (effect["labels"], effect["learned"], effect["held_back"], effect["suspect"]) == (3, 2, 1, 1)
    assert effect["started_version"] == start
    assert (effect["started_accuracy"], effect["live_accuracy"], effect["change_points"]) == (0.5, 0.62, 12.0)
    assert [h["image"] for h in effect["held_back_recent"]] == [held["image"]]
    assert effect["held_back_recent"][0]["reason"] == "failed: the fake holds every label back"


def test_across_a_retrain_the_accuracies_are_shown_but_not_compared(client, fake_backend, alice, shared_photos):
    api = client_for(alice)
    label(api, shared_photos(1)[0], "happy")
    retrained = fake_backend.add_version(kind="retrain", infant_accuracy=0.37)  # scored on its own photos
    fake_backend.versions_made[retrained].tags["extractor_id"] = "retrained-extractor"
    fake_backend.set_live(retrained, by="retrain")

    effect = api.get("/api/queue/effect/").json()

    assert (effect["live_version"], effect["live_accuracy"], effect["started_accuracy"]) == (retrained, 0.37, 0.5)
    assert effect["comparable"] is False and effect["change_points"] is None
    client.force_login(alice)
    page = client.get("/label/").content.decode()
    assert "retrained since, on everyone's labels, and scored on other photos" in page


def test_the_effect_needs_an_annotator(client, django_user_model, fake_backend):
    assert client.get("/api/queue/effect/").status_code in (401, 403)
    client.force_login(django_user_model.objects.create_user("visitor", password="just-looking-42"))
    assert client.get("/api/queue/effect/").status_code == 403


def test_the_labeling_page_renders_the_effect_of_earlier_labels(client, fake_backend, alice, shared_photos):
    client_for(alice).post("/api/annotations/", {"image": shared_photos(1)[0], "label": "happy"}, format="json")
    client.force_login(alice)

    page = client.get("/label/").content.decode()

    assert 'data-testid="effect-learned">1<' in page
    assert "when you started" in page
