"""Events up: predictions says a photo is deleted or unshared, or a person's data goes; annotations does the rest."""

from __future__ import annotations

import weakref

import pytest
from django.db import transaction
from django.dispatch import Signal

from annotations import receivers
from annotations.models import Annotation
from predictions import services, signals
from predictions.models import LabelStatus, Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def unlearned(monkeypatch):  # type: ignore[no-untyped-def]
    """The reasons the unlearn job was queued with, once the change committed (nothing runs)."""
    queued: list[str] = []
    monkeypatch.setattr("annotations.services.enqueue", lambda path, **kw: queued.append((path, kw["reason"])))
    return queued


def label(image_id: str, user, status: str = LabelStatus.LEARNED, **extra: object) -> Annotation:  # type: ignore[no-untyped-def]
    return Annotation.objects.create(image_id=image_id, annotator=user, label="happy", status=status, **extra)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return lambda: django_capture_on_commit_callbacks(execute=True)


def connected(signal: Signal) -> list[object]:
    refs = [entry[1] for entry in signal.receivers]
    return [ref() if isinstance(ref, weakref.ReferenceType) else ref for ref in refs]


def test_annotations_subscribes_to_every_event_of_predictions_as_it_starts():
    assert receivers.unlearn_deleted_photos in connected(signals.photos_deleting)
    assert receivers.unlearn_unshared_photos in connected(signals.consent_withdrawn)
    assert receivers.delete_labels_of_person in connected(signals.person_data_deleting)


def test_deleting_photos_tells_the_rooms_above_while_the_rows_are_still_there(shared_photos):
    first, second = shared_photos(2)
    seen = []

    def listener(sender, *, image_ids, **_):  # type: ignore[no-untyped-def]
        seen.append((sorted(image_ids), Prediction.objects.filter(pk__in=image_ids).count()))
        return 2

    signals.photos_deleting.connect(listener)
    try:
        deleted = services.predictions_delete(predictions=Prediction.objects.filter(pk__in=[first, second]))
    finally:
        signals.photos_deleting.disconnect(listener)

    assert seen == [(sorted([first, second]), 2)]
    assert deleted.predictions == 2 and deleted.annotations == 2  # what the listener answered; annotations has none


def test_a_deleted_learned_photo_is_unlearned_on_commit_and_its_labels_are_counted(
    shared_photos, make_annotator, unlearned, on_commit
):
    learned, waiting = shared_photos(2)
    alice, bob = make_annotator("alice"), make_annotator("bob")
    label(learned, alice), label(learned, bob, status=LabelStatus.QUEUED), label(waiting, bob, LabelStatus.QUEUED)

    with on_commit():
        deleted = services.predictions_delete(predictions=Prediction.objects.filter(pk__in=[learned, waiting]))

    assert deleted.annotations == 3
    assert unlearned == [("annotations.tasks.unlearn", f"deleted: image {learned}")]


def test_a_suspect_label_was_learned_from_before_it_went_back_to_the_queue(
    shared_photos, make_annotator, unlearned, on_commit
):
    (photo,) = shared_photos(1)
    label(photo, make_annotator(), status=LabelStatus.QUEUED, suspect_since="2026-12-01T00:00:00Z")

    with on_commit():
        services.prediction_consent_set(prediction=Prediction.objects.get(pk=photo), consent=False)

    assert unlearned == [("annotations.tasks.unlearn", f"consent withdrawn: image {photo}")]


def test_consent_given_again_or_kept_sends_nothing(shared_photos, make_annotator, unlearned, on_commit):
    (photo,) = shared_photos(1)
    label(photo, make_annotator())
    prediction = Prediction.objects.get(pk=photo)

    with on_commit():
        services.prediction_consent_set(prediction=prediction, consent=True)

    assert unlearned == []


def test_a_person_deleting_their_data_deletes_their_labels_and_unlearns_what_was_learned_through_them(
    shared_photos, make_annotator, unlearned, on_commit
):
    photos = shared_photos(7)
    alice, bob = make_annotator("alice"), make_annotator("bob")
    for photo in photos[:6]:
        label(photo, alice)
    label(photos[6], alice, status=LabelStatus.QUEUED)
    label(photos[0], bob, status=LabelStatus.QUEUED)

    with on_commit():
        deleted = services.user_data_delete(user=alice, session_key="")

    assert deleted.annotations == 7 and deleted.predictions == 0
    assert list(Annotation.objects.values_list("annotator__username", flat=True)) == ["bob"]
    shown = sorted(photos[:6])
    assert unlearned == [
        ("annotations.tasks.unlearn", f"labels deleted: images {', '.join(shown[:5])} and 1 more"),
    ]


def test_nothing_is_queued_when_the_deletion_rolls_back(shared_photos, make_annotator, unlearned, on_commit):
    (photo,) = shared_photos(1)
    label(photo, make_annotator())

    with on_commit(), pytest.raises(RuntimeError), transaction.atomic():
        services.predictions_delete(predictions=Prediction.objects.filter(pk=photo))
        raise RuntimeError("the request failed after the delete")

    assert unlearned == [] and Prediction.objects.filter(pk=photo).exists()


def test_a_consolidation_asked_for_on_the_dashboard_is_queued_by_the_labeling_room_on_commit(
    make_annotator, monkeypatch, on_commit
):
    from modelops.services import consolidation_start

    queued = []
    monkeypatch.setattr("annotations.services.enqueue", lambda path, **kw: queued.append((path, kw)))
    staff = make_annotator("staff", is_staff=True)

    with on_commit():
        consolidation_start(user=staff)
        assert queued == []  # not before the request commits

    assert queued == [("annotations.tasks.consolidate", {"user_id": staff.pk})]
