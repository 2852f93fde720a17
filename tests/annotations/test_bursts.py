"""Labels that arrive together are learned together: one update, one version, every label in its lineage."""

from __future__ import annotations

import pytest

from annotations.learning import online
from annotations.models import Annotation
from modelops.models import ModelChange

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def waiting_labels(images: list[str], annotator) -> list[Annotation]:  # type: ignore[no-untyped-def]
    """Labels committed while the single writer was busy: queued, their jobs not run yet."""
    return [
        Annotation.objects.create(image_id=image, annotator=annotator, label=LABELS[i % 7])
        for i, image in enumerate(images)
    ]


def test_a_burst_of_labels_makes_fewer_versions_than_labels_with_every_label_in_the_lineage(
    fake_backend, alice, shared_photos
):
    start = fake_backend.live_version()
    labels = waiting_labels(shared_photos(6), alice)

    made = [online.learn_from_annotation(annotation_id=label.pk) for label in labels]

    version = made[0]
    assert version is not None and made[1:] == [None] * 5  # the later jobs found their labels learned
    assert fake_backend.live_version() == version
    assert set(Annotation.objects.values_list("status", "model_version", "parent_version")) == {
        ("learned", version, start)
    }
    tags = fake_backend.version_info(version).tags
    assert sorted(map(int, tags["annotation_ids"].split(","))) == sorted(label.pk for label in labels)
    assert tags["label"].split(",") == LABELS[:6]
    change = ModelChange.objects.get(action=ModelChange.Action.LEARN)
    assert (change.previous_version, change.version) == (start, version)
    assert "6 images" in change.reason


def test_a_due_consolidation_runs_when_the_count_jumps_past_its_multiple(fake_backend, alice, shared_photos, settings):
    settings.INFANTINO_CONSOLIDATE_EVERY = 4
    labels = waiting_labels(shared_photos(6), alice)

    online.learn_from_annotation(annotation_id=labels[0].pk)  # 0 → 6 settled images: never exactly 4

    consolidation = ModelChange.objects.get(action=ModelChange.Action.CONSOLIDATE)
    assert fake_backend.live_version() == consolidation.version
    assert fake_backend.version_info(consolidation.version).tags["consolidation"] == "6"


def test_a_label_held_back_is_learned_with_the_next_one_the_guard_lets_through(fake_backend, alice, shared_photos):
    first_image, second_image = shared_photos(2)
    fake_backend.hold_back = True
    [first] = waiting_labels([first_image], alice)
    online.learn_from_annotation(annotation_id=first.pk)
    first.refresh_from_db()
    assert first.status == "held_back"

    fake_backend.hold_back = False
    second = Annotation.objects.create(image_id=second_image, annotator=alice, label="sad")
    version = online.learn_from_annotation(annotation_id=second.pk)

    first.refresh_from_db()
    assert (first.status, first.model_version) == ("learned", version)  # "held back" meant "not yet"
    assert first.guard_note == ""
    assert fake_backend.live_version() == version
