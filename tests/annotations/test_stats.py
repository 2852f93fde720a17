"""Per-annotator statistics for staff, checked on a small planted project."""

from __future__ import annotations

import pytest

from annotations.models import Adjudication, Annotation, QueueSkip
from predictions.models import Prediction
from tests.annotations.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(settings, shared_photos, make_annotator):  # type: ignore[no-untyped-def]
    """Four photos: a 2-to-1 majority, a split an adjudicator settled, a lone vote, a photo marked unusable."""
    settings.INFANTINO_LABELS_PER_IMAGE = 2
    majority, split, lone, no_face = (Prediction.objects.get(pk=pk) for pk in shared_photos(4))
    alice, bob, carol = make_annotator("alice"), make_annotator("bob"), make_annotator("carol")
    boss = make_annotator("boss", is_staff=True)
    for image, person, label, seconds in [
        (majority, alice, "happy", 2.0),
        (majority, bob, "happy", 10.0),
        (majority, carol, "sad", None),
        (split, alice, "sad", 4.0),
        (split, bob, "fear", None),
        (lone, alice, "angry", 30.0),
    ]:
        Annotation.objects.create(image=image, annotator=person, label=label, seconds=seconds)
    Adjudication.objects.create(image=split, label="fear", adjudicator=boss)
    QueueSkip.objects.create(image=lone, annotator=carol)
    Prediction.objects.filter(pk=no_face.pk).update(unusable="no_face", unusable_by=bob)
    return boss


def test_statistics_count_labels_agreement_with_the_consensus_median_time_skips_and_marks(planted):
    rows = {row["annotator"]: row for row in client_for(planted).get("/api/annotators/").json()}

    assert rows["alice"] == {
        "annotator": "alice",
        "labels": 3,
        "agreement": 0.5,  # happy matches the majority, sad not the adjudicated fear; the lone vote is no consensus
        "compared": 2,
        "median_seconds": 4.0,
        "skips": 0,
        "unusable_marks": 0,
    }
    assert (rows["bob"]["labels"], rows["bob"]["agreement"], rows["bob"]["median_seconds"]) == (2, 1.0, 10.0)
    assert rows["bob"]["unusable_marks"] == 1
    assert (rows["carol"]["agreement"], rows["carol"]["median_seconds"], rows["carol"]["skips"]) == (0.0, None, 1)
    assert rows["boss"]["labels"] == 0 and rows["boss"]["agreement"] is None


def test_statistics_are_for_staff_only(client, planted, make_annotator):
    alice = make_annotator("dave")
    assert client_for(alice).get("/api/annotators/").status_code == 403
    client.force_login(alice)
    assert client.get("/label/annotators/").status_code == 302  # to sign-in, as the other staff pages do

    client.force_login(planted)
    page = client.get("/label/annotators/").content.decode()
    assert '<th scope="row">alice</th><td>3</td>' in page
    assert "50 %" in page


def test_staff_turn_project_blind_mode_on_from_the_statistics_page(client, planted):
    client.force_login(planted)

    client.post("/label/annotators/", {"blind": "on"})

    assert client_for(planted).get("/api/queue/blind/").json()["project"] is True
    client.post("/label/annotators/", {})
    assert client_for(planted).get("/api/queue/blind/").json()["project"] is False
