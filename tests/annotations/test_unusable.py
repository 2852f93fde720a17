"""Photos with no usable face, or not of an infant: out of every queue and out of training, undone by staff."""

from __future__ import annotations

import pytest

from annotations.learning import online, replay
from annotations.models import Annotation
from modelops.models import ModelChange
from predictions import ml
from predictions.models import Prediction
from predictions.selectors import predictions_labeled_to_consensus
from tests.annotations.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def mark(client, image: str, reason: str = "no_face"):  # type: ignore[no-untyped-def]
    return client.post("/api/queue/unusable/", {"image": image, "reason": reason}, format="json")


def queue_ids(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["id"] for item in client.get("/api/queue/?n=50").json()]


def test_a_photo_marked_no_usable_face_leaves_every_queue_and_its_waiting_label_stays_unlearned(
    settings, fake_backend, shared_photos, make_annotator
):
    settings.INFANTINO_LABELS_PER_IMAGE = 2
    alice, bob, carol = (client_for(make_annotator(name)) for name in ("alice", "bob", "carol"))
    image, other = shared_photos(2)
    waiting = alice.post("/api/annotations/", {"image": image, "label": "happy"}, format="json").json()
    live = fake_backend.live_version()

    response = mark(bob, image)

    assert response.status_code == 200
    assert response.json() == {"image": image, "unusable": "no_face"}
    assert queue_ids(carol) == [other]
    assert queue_ids(bob) == [other]
    assert carol.post("/api/annotations/", {"image": image, "label": "happy"}, format="json").status_code == 404
    online.learn_from_annotation(annotation_id=waiting["id"])  # its job, run again: still nothing to learn
    assert Annotation.objects.get(pk=waiting["id"]).status == "queued"
    assert fake_backend.live_version() == live
    stored = Prediction.objects.get(pk=image)
    assert (stored.unusable, stored.unusable_by.username) == ("no_face", "bob")


def test_a_learned_photo_marked_not_an_infant_leaves_training_and_the_live_head_is_refitted_without_it(
    fake_backend, shared_photos, alice, make_annotator
):
    image, kept = shared_photos(2)
    client = client_for(alice)
    for photo, name in ((image, "happy"), (kept, "sad")):
        assert client.post("/api/annotations/", {"image": photo, "label": name}, format="json").json()["status"] == (
            "learned"
        )

    assert mark(client_for(make_annotator("bob")), image, "not_infant").status_code == 200

    assert [str(p.pk) for p, _ in predictions_labeled_to_consensus()] == [kept]
    extractor_id = fake_backend.extractor_id(fake_backend.live_version())
    replayed = replay.labeled(extractor_id=extractor_id).rows
    assert replayed.y.tolist() == ml.labels_to_indices(["sad"]).tolist()
    refit = ModelChange.objects.get(action=ModelChange.Action.UNLEARN)
    assert refit.version == fake_backend.live_version()
    assert image in refit.reason and "not_infant" in refit.reason


def test_marking_twice_is_a_409_and_an_unknown_reason_a_400(shared_photos, alice):
    (image,) = shared_photos(1)
    client = client_for(alice)

    assert mark(client, image, "blurry").status_code == 400
    assert mark(client, image).status_code == 200
    again = mark(client, image, "not_infant")

    assert again.status_code == 409
    assert Prediction.objects.get(pk=image).unusable == "no_face"


def test_staff_undo_the_mark_and_the_photo_returns_to_the_queue_with_its_waiting_label_learned(
    settings, fake_backend, shared_photos, make_annotator
):
    settings.INFANTINO_LABELS_PER_IMAGE = 1
    alice = client_for(make_annotator("alice"))
    (image,) = shared_photos(1)
    mark(alice, image)
    stuck = Annotation.objects.create(image_id=image, label="fear", annotator=make_annotator("bob"))

    assert alice.delete(f"/api/queue/unusable/{image}/").status_code == 403
    assert Prediction.objects.get(pk=image).unusable == "no_face"
    undone = client_for(make_annotator("boss", is_staff=True)).delete(f"/api/queue/unusable/{image}/")

    assert undone.status_code == 200
    assert undone.json()["unusable"] == ""
    assert Annotation.objects.get(pk=stuck.pk).status == "learned"
    assert queue_ids(alice) == []  # learned: nothing left to label
    assert client_for(make_annotator("boss2", is_staff=True)).delete(f"/api/queue/unusable/{image}/").status_code == 404
