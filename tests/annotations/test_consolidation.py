"""Consolidation: every N labeled images, the head is refitted on all of them as a guarded new version."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.learning.consolidate import consolidate
from annotations.models import Annotation
from modelops.models import ModelChange
from predictions import ml
from predictions.models import ImageEmbedding
from tests.annotations.conftest import client_for
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def upload_labeled(client, label: str, seed: int) -> dict:  # type: ignore[no-untyped-def]
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(seed=seed))
    response = client.post("/api/labeled-images/", {"image": photo, "label": label}, format="multipart")
    assert response.status_code == 201
    return response.json()


def learned_labels(make_images, annotator, labels: list[str]) -> list[Annotation]:  # type: ignore[no-untyped-def]
    """Photos predicted by the live model, each with a label recorded as learned (its embedding kept)."""
    return [
        Annotation.objects.create(image_id=pk, label=label, annotator=annotator, status=Annotation.Status.LEARNED)
        for pk, label in zip(make_images(len(labels)), labels, strict=True)
    ]


def test_a_consolidation_registers_a_version_with_its_lineage_and_moves_the_alias(live_model, make_images, alice):
    labels = ["happy", "sad", "happy", "neutral", "fear", "sad"]
    learned_labels(make_images, alice, labels)
    assert ImageEmbedding.objects.count() == len(labels)

    version = consolidate()

    backend = ml.backend()
    assert version is not None and backend.live_version() == version
    info = backend.version_info(version)
    assert info.parent == live_model
    assert info.tags["consolidation"] == str(len(labels))
    assert info.tags["extractor_id"] == backend.extractor_id(live_model)
    assert info.tags["guard_anchor"] == live_model  # judged against the offline anchor, as every online version
    change = ModelChange.objects.get(action=ModelChange.Action.CONSOLIDATE)
    assert (change.previous_version, change.version) == (live_model, version)
    assert "refitted on 6 labels" in change.reason


def test_every_nth_label_that_goes_live_consolidates_the_line(settings, fake_backend, alice):
    settings.INFANTINO_CONSOLIDATE_EVERY = 2
    client = client_for(alice)

    upload_labeled(client, "happy", seed=1)
    assert not ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).exists()
    upload_labeled(client, "sad", seed=2)

    change = ModelChange.objects.get(action=ModelChange.Action.CONSOLIDATE)
    info = fake_backend.version_info(change.version)
    assert info.tags["consolidation"] == "2" and info.parent == change.previous_version
    assert fake_backend.live_version() == change.version
    upload_labeled(client, "fear", seed=3)
    assert ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).count() == 1
    upload_labeled(client, "fear", seed=4)
    assert ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).count() == 2


def test_labels_the_guard_held_back_count_towards_the_next_consolidation(settings, fake_backend, alice):
    settings.INFANTINO_CONSOLIDATE_EVERY = 3
    client = client_for(alice)
    fake_backend.hold_back = True
    upload_labeled(client, "happy", seed=1)
    upload_labeled(client, "sad", seed=2)
    assert Annotation.objects.filter(status=Annotation.Status.HELD_BACK).count() == 2
    fake_backend.hold_back = False

    upload_labeled(client, "fear", seed=3)  # the third labeled image: learned, and due

    change = ModelChange.objects.get(action=ModelChange.Action.CONSOLIDATE)
    assert fake_backend.version_info(change.version).tags["consolidation"] == "3"  # the held-back two refitted too
    assert fake_backend.live_version() == change.version


def test_a_consolidation_the_guard_holds_back_leaves_the_live_version(settings, fake_backend, alice):
    upload_labeled(client_for(alice), "happy", seed=1)
    live = fake_backend.live_version()
    fake_backend.hold_back = True

    version = consolidate()

    assert version is not None and version != live
    assert fake_backend.live_version() == live
    assert not ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).exists()


def test_a_consolidation_refits_on_every_label_learned_so_far(fake_backend, alice):
    client = client_for(alice)
    anchor = fake_backend.live_version()
    for seed, label in enumerate(["happy", "happy", "sad"]):
        upload_labeled(client, label, seed=seed)

    version = consolidate()

    expected = fake_backend.version_scores(anchor).copy()
    for label in ["happy", "happy", "sad"]:
        expected[ml.LABELS.index(label)] += 1.0
    assert np.array_equal(fake_backend.version_scores(version), expected)


def test_with_consolidation_off_no_label_consolidates(settings, fake_backend, alice):
    settings.INFANTINO_CONSOLIDATE_EVERY = 0
    client = client_for(alice)
    for seed in range(3):
        upload_labeled(client, "happy", seed=seed)

    assert not ModelChange.objects.filter(action=ModelChange.Action.CONSOLIDATE).exists()
