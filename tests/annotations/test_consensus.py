"""One rule decides an image's label (annotations.consensus.decided_label): export, statistics, agreement and
progress read the same answer, on adjudicated and suspect images too."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from annotations.consensus import decided_label
from annotations.exports import export_rows
from annotations.models import Adjudication, Annotation
from annotations.selectors import agreement_summary, annotator_statistics, labeling_progress
from annotations.selectors.votes import decided_labels
from predictions.models import Prediction
from predictions.services import prediction_create
from tests.images import jpeg_bytes


@pytest.mark.parametrize(
    ("labels", "per_image", "decided"),
    [
        (["happy"], 1, "happy"),
        (["happy"], 2, None),  # not enough votes yet
        (["happy", "sad"], 2, None),  # no strict majority
        (["happy", "sad", "happy"], 2, "happy"),
    ],
)
def test_without_a_decision_a_strict_majority_decides_once_enough_votes_are_in(settings, labels, per_image, decided):
    settings.INFANTINO_LABELS_PER_IMAGE = per_image
    assert decided_label(labels) == decided


def test_an_adjudication_decides_even_against_the_majority(settings):
    settings.INFANTINO_LABELS_PER_IMAGE = 1
    assert decided_label(["sad", "sad", "fear"], adjudicated="fear") == "fear"
    assert decided_label(["sad", "fear"], adjudicated="fear") == "fear"


def test_an_adjudication_whose_votes_are_gone_waits_for_a_vote_that_carries_it():
    assert decided_label(["sad"], adjudicated="fear") is None
    assert decided_label([], adjudicated="fear") is None


def test_a_suspect_image_needs_two_agreeing_votes_even_at_one_label_per_image(settings):
    settings.INFANTINO_LABELS_PER_IMAGE = 1
    assert decided_label(["happy"], suspect=True) is None
    assert decided_label(["happy", "sad"], suspect=True) is None
    assert decided_label(["happy", "happy"], suspect=True) == "happy"
    assert decided_label(["happy"], adjudicated="happy", suspect=True) == "happy"  # the adjudicator is the second


def test_a_suspect_image_at_three_labels_per_image_still_needs_three(settings):
    settings.INFANTINO_LABELS_PER_IMAGE = 3
    assert decided_label(["happy", "happy"], suspect=True) is None
    assert decided_label(["happy", "happy", "sad"], suspect=True) == "happy"


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_backend")
def test_export_statistics_agreement_and_progress_read_the_same_decided_label(settings, make_annotator):
    settings.INFANTINO_LABELS_PER_IMAGE = 1
    alice, bob, carol = make_annotator("alice"), make_annotator("bob"), make_annotator("carol")
    staff = make_annotator("boss", is_staff=True)

    def photo(seed: int) -> Prediction:
        return prediction_create(upload=SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(seed=seed)), consent=True)

    plain, suspect, against, orphaned = photo(1), photo(2), photo(3), photo(4)
    Annotation.objects.create(image=plain, annotator=alice, label="happy")
    Annotation.objects.create(image=suspect, annotator=alice, label="sad", suspect_since=timezone.now())
    for user, label in ((alice, "sad"), (bob, "sad"), (carol, "fear")):
        Annotation.objects.create(image=against, annotator=user, label=label)
    Adjudication.objects.create(image=against, label="fear", adjudicator=staff, votes=[])
    Annotation.objects.create(image=orphaned, annotator=alice, label="sad")
    Annotation.objects.create(image=orphaned, annotator=bob, label="angry")
    Adjudication.objects.create(image=orphaned, label="fear", adjudicator=staff, votes=[])  # its voter was deleted

    expected = {str(plain.pk): "happy", str(against.pk): "fear"}
    assert {str(k): v for k, v in decided_labels().items()} == expected
    assert {row.id: row.consensus for row in export_rows() if row.consensus} == expected
    assert {str(c.image.pk): c.consensus for c in agreement_summary().conflicts} == {
        str(against.pk): "fear",
        str(orphaned.pk): None,
    }
    compared = {row.annotator: (row.compared, row.agreed) for row in annotator_statistics()}
    assert compared["carol"] == (1, 1) and compared["bob"] == (1, 0)  # only the adjudicated image is compared
    assert compared["alice"] == (1, 0)  # the orphaned decision and the lone suspect vote decide nothing yet
    assert labeling_progress(annotator=alice).labeled == 2
