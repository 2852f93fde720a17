"""A label the other labels contradict goes back to the queue, marked suspect, and waits for a second opinion."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.learning.consolidate import consolidate
from annotations.models import Annotation
from predictions import ml
from predictions.models import ImageEmbedding
from tests.annotations.conftest import client_for
from tests.mlcore.test_learner import blobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]

PER_CLASS = 6  # with fewer, one wrong label among its class's few photos can drown out their own in cross-fitting
PLANTED = 2 * PER_CLASS + 1  # a "fear" photo (class 2), labeled "surprise"


@pytest.fixture
def planted(shared_photos, alice) -> Annotation:  # type: ignore[no-untyped-def]
    """Six photos of each class, their embeddings well apart, learned from alice's labels; one label is wrong."""
    x, y = blobs(PER_CLASS, seed=21)
    wrong = None
    for index, (pk, vector, cls) in enumerate(zip(shared_photos(len(y)), x, y, strict=True)):
        ImageEmbedding.objects.filter(prediction_id=pk).update(vector=vector.astype(np.float32).tobytes())
        label = "surprise" if index == PLANTED else ml.LABELS[int(cls)]
        annotation = Annotation.objects.create(
            image_id=pk, label=label, annotator=alice, status=Annotation.Status.LEARNED
        )
        wrong = annotation if index == PLANTED else wrong
    assert wrong is not None and ml.LABELS[int(y[PLANTED])] == "fear"
    return wrong


def queue_of(user) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client_for(user).get("/api/queue/", {"n": 5})
    assert response.status_code == 200
    return response.json()


def test_a_planted_mislabel_is_sent_back_to_the_queue_marked_suspect(fake_backend, planted, alice, make_annotator):
    consolidate()

    planted.refresh_from_db()
    assert planted.status == Annotation.Status.QUEUED and planted.suspect_since is not None
    assert "'surprise'" in planted.suspect_note and "it says 'fear'" in planted.suspect_note
    assert (
        Annotation.objects.exclude(pk=planted.pk).filter(status=Annotation.Status.LEARNED).count() == 7 * PER_CLASS - 1
    )
    first, *_ = queue_of(make_annotator("bob"))
    assert (first["id"], first["suspect"], first["suspect_note"]) == (str(planted.image_id), True, planted.suspect_note)
    assert str(planted.image_id) not in [item["id"] for item in queue_of(alice)]


def test_a_suspect_image_waits_for_a_majority_of_two_labels_or_more(fake_backend, planted, make_annotator):
    consolidate()
    bob, carol = make_annotator("bob"), make_annotator("carol")

    posted = client_for(bob).post("/api/annotations/", {"image": str(planted.image_id), "label": "fear"}, format="json")

    assert posted.status_code == 201 and posted.json()["status"] == "queued"  # one against one: no majority yet
    assert str(planted.image_id) in [item["id"] for item in queue_of(carol)]
    client_for(carol).post("/api/annotations/", {"image": str(planted.image_id), "label": "fear"}, format="json")
    statuses = dict(Annotation.objects.filter(image_id=planted.image_id).values_list("label", "status"))
    assert statuses == {"fear": Annotation.Status.LEARNED, "surprise": Annotation.Status.OUTVOTED}


def test_a_label_is_sent_back_once_at_most(fake_backend, planted, make_annotator):
    consolidate()
    client_for(make_annotator("bob")).post(
        "/api/annotations/", {"image": str(planted.image_id), "label": "surprise"}, format="json"
    )
    planted.refresh_from_db()
    assert planted.status == Annotation.Status.LEARNED  # two agreeing labels settle it

    consolidate()

    planted.refresh_from_db()
    assert planted.status == Annotation.Status.LEARNED


def test_clean_labels_send_nothing_back(fake_backend, shared_photos, alice):
    x, y = blobs(PER_CLASS, seed=22)
    for pk, vector, cls in zip(shared_photos(len(y)), x, y, strict=True):
        ImageEmbedding.objects.filter(prediction_id=pk).update(vector=vector.astype(np.float32).tobytes())
        Annotation.objects.create(image_id=pk, label=ml.LABELS[int(cls)], annotator=alice, status="learned")

    consolidate()

    assert not Annotation.objects.filter(suspect_since__isnull=False).exists()
