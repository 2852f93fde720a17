"""Settling conflicts: an adjudicator decides between the votes; the decision is audited and learned once."""

from __future__ import annotations

import pytest

from annotations import tasks
from annotations.models import Adjudication, Annotation
from modelops.models import ModelChange
from tests.annotations.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def label(client, image: str, name: str):  # type: ignore[no-untyped-def]
    return client.post("/api/annotations/", {"image": image, "label": name}, format="json").json()


def settle(client, image: str, name: str, note: str = ""):  # type: ignore[no-untyped-def]
    return client.post("/api/adjudications/", {"image": image, "label": name, "note": note}, format="json")


@pytest.fixture
def conflict(settings, shared_photos, make_annotator):  # type: ignore[no-untyped-def]
    """One photo two annotators labeled differently, with two labels needed: no majority, nothing learned."""
    settings.INFANTINO_LABELS_PER_IMAGE = 2
    (image,) = shared_photos(1)
    happy = label(client_for(make_annotator("alice")), image, "happy")
    sad = label(client_for(make_annotator("bob")), image, "sad")
    assert (happy["status"], sad["status"]) == ("queued", "queued")
    return image, happy, sad


def test_an_adjudicator_sees_every_vote_and_the_decision_is_learned_once_through_the_alias_service(
    fake_backend, conflict, make_adjudicator
):
    image, happy, sad = conflict
    judy = client_for(make_adjudicator("judy"))
    start = fake_backend.live_version()

    (listed,) = judy.get("/api/conflicts/").json()
    assert listed["id"] == image
    assert sorted((vote["annotator"], vote["label"]) for vote in listed["votes"]) == [
        ("alice", "happy"),
        ("bob", "sad"),
    ]
    assert (listed["majority"], listed["learned"], listed["choices"]) == (None, None, ["happy", "sad"])

    response = settle(judy, image, "sad", note="the mouth turns down")

    assert response.status_code == 201
    body = response.json()
    assert (body["label"], body["adjudicator"], body["note"]) == ("sad", "judy", "the mouth turns down")
    assert [(vote["annotator"], vote["label"]) for vote in body["votes"]] == [("alice", "happy"), ("bob", "sad")]
    statuses = dict(Annotation.objects.values_list("annotator__username", "status"))
    assert statuses == {"alice": "outvoted", "bob": "learned"}
    (move,) = ModelChange.objects.all()
    assert (move.action, move.previous_version, move.version) == ("learn", start, fake_backend.live_version())
    lineage = fake_backend.version_info(move.version)
    assert (lineage.tags["label"], lineage.tags["annotation_ids"], lineage.tags["parent_version"]) == (
        "sad",
        str(sad["id"]),
        start,
    )
    assert judy.get("/api/conflicts/").json() == []
    assert judy.get("/api/agreement/").json()["conflicts"][0]["consensus"] == "sad"

    for annotation in (happy, sad):  # the learn jobs of both votes, run again: nothing is learned twice
        tasks.learn(annotation_id=annotation["id"])
    again = settle(client_for(make_adjudicator("jim")), image, "happy")
    assert again.status_code == 409
    assert ModelChange.objects.count() == 1
    assert Adjudication.objects.get().label == "sad"


def test_a_plain_annotator_can_neither_list_nor_settle_conflicts(client, conflict, make_annotator):
    image, _, _ = conflict
    carol = make_annotator("carol")

    assert client_for(carol).get("/api/conflicts/").status_code == 403
    assert settle(client_for(carol), image, "happy").status_code == 403
    client.force_login(carol)
    assert client.get("/label/conflicts/").status_code == 403
    assert client.post("/label/conflicts/", {"image": image, "label": "happy"}).status_code == 403
    assert not Adjudication.objects.exists()


def test_a_decision_against_the_label_already_learned_is_refused_and_says_so(
    fake_backend, shared_photos, make_annotator, make_adjudicator
):
    (image,) = shared_photos(1)
    label(client_for(make_annotator("alice")), image, "happy")  # one label needed: learned at once
    assert label(client_for(make_annotator("bob")), image, "sad")["status"] == "outvoted"
    judy = client_for(make_adjudicator())
    assert judy.get("/api/conflicts/").json()[0]["learned"] == "happy"

    refused = settle(judy, image, "sad")

    assert refused.status_code == 409
    assert "learned as happy" in refused.json()["error"]
    assert not Adjudication.objects.exists()
    assert settle(judy, image, "happy").status_code == 201  # confirming it learns nothing again
    assert ModelChange.objects.count() == 1


def test_a_decision_must_be_one_of_the_labels_given_and_needs_votes(
    fake_backend, conflict, shared_photos, make_adjudicator
):
    image, _, _ = conflict
    (unlabeled,) = shared_photos(1, first_seed=7)
    judy = client_for(make_adjudicator())

    outside = settle(judy, image, "fear")
    nobody = settle(judy, unlabeled, "fear")

    assert outside.status_code == 400
    assert "happy, sad" in outside.json()["error"]
    assert nobody.status_code == 400
    assert settle(judy, "00000000-0000-0000-0000-000000000000", "happy").status_code == 404
    assert not Adjudication.objects.exists()


def test_the_conflicts_page_settles_with_a_form_and_hides_the_guess_in_blind_mode(
    client, fake_backend, conflict, make_adjudicator
):
    image, _, _ = conflict
    judy = make_adjudicator()
    client.force_login(judy)
    page = client.get("/label/conflicts/").content.decode()
    assert f'data-image-id="{image}"' in page
    assert "model's guess" in page
    client_for(judy).patch("/api/queue/blind/", {"mine": True}, format="json")
    assert "· model's guess" not in client.get("/label/conflicts/").content.decode()

    settled = client.post("/label/conflicts/", {"image": image, "label": "happy", "note": "smiling"}, follow=True)

    assert "Settled as happy" in settled.content.decode()
    decision = Adjudication.objects.get()
    assert (decision.label, decision.note, decision.adjudicator) == ("happy", "smiling", judy)
    assert "No conflicts to settle." in settled.content.decode()


def test_the_sweep_learns_a_decided_image_whose_learn_job_was_lost(
    settings, monkeypatch, fake_backend, conflict, make_adjudicator
):
    from annotations.learning.sweep import requeue_waiting_labels

    image, _, _ = conflict
    settings.INFANTINO_LABELS_PER_IMAGE = 3  # two votes only: without the decision the sweep would pass it by
    with monkeypatch.context() as patch:  # the decision's learn job dies with its worker
        patch.setattr("annotations.services.enqueue", lambda *args, **kwargs: None)
        assert settle(client_for(make_adjudicator()), image, "sad").status_code == 201
    assert set(Annotation.objects.values_list("status", flat=True)) == {"queued"}

    assert requeue_waiting_labels(older_than=0) == 1

    assert dict(Annotation.objects.values_list("label", "status")) == {"happy": "outvoted", "sad": "learned"}
