"""A learned photo deleted, or no longer shared, leaves the live model: a refitted version goes live at once."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from modelops.models import ModelChange
from predictions import ml
from predictions.ml import LABELS
from tests.annotations.conftest import client_for
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def upload_labeled(client: APIClient, label: str, seed: int) -> dict:
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(seed=seed))
    response = client.post("/api/labeled-images/", {"image": photo, "label": label}, format="multipart")
    assert response.status_code == 201 and response.json()["status"] == "learned"
    return response.json()


def anchor_plus(fake_backend, anchor: str, *labels: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The scores of a fake version that learned ``labels`` onto ``anchor`` and nothing else."""
    scores = fake_backend.version_scores(anchor).copy()
    for label in labels:
        scores[LABELS.index(label)] += 1.0
    return scores


def test_deleting_a_learned_photo_makes_a_live_version_refitted_without_it(fake_backend, alice):
    client = client_for(alice)
    anchor = fake_backend.live_version()
    gone, kept = upload_labeled(client, "happy", seed=1), upload_labeled(client, "sad", seed=2)
    learned_live = fake_backend.live_version()

    assert client.delete(f"/api/predictions/{gone['image']}/").status_code == 204

    live = fake_backend.live_version()
    info = fake_backend.version_info(live)
    assert info.tags["kind"] == "unlearn" and info.parent == learned_live
    assert info.tags["reason"] == f"deleted: image {gone['image']}"
    change = ModelChange.objects.get(action=ModelChange.Action.UNLEARN)
    assert (change.previous_version, change.version, change.reason) == (learned_live, live, info.tags["reason"])
    assert np.array_equal(fake_backend.version_scores(live), anchor_plus(fake_backend, anchor, "sad"))
    assert client.get(f"/api/annotations/{kept['id']}/").json()["status"] == "learned"


def test_withdrawing_consent_from_a_learned_photo_refits_live_without_it(fake_backend, alice):
    client = client_for(alice)
    anchor = fake_backend.live_version()
    photo = SimpleUploadedFile("b.jpg", jpeg_bytes(seed=3))
    created = client.post("/api/predictions/", {"image": photo, "consent": "true"}, format="multipart").json()
    assert client.post("/api/annotations/", {"image": created["id"], "label": "fear"}, format="json").status_code == 201

    assert client.patch(f"/api/predictions/{created['id']}/", {"consent": False}, format="json").status_code == 200

    live = fake_backend.version_info(fake_backend.live_version())
    assert live.tags["kind"] == "unlearn" and live.tags["reason"] == f"consent withdrawn: image {created['id']}"
    assert np.array_equal(fake_backend.version_scores(live.version), anchor_plus(fake_backend, anchor))


def test_deleting_a_photo_no_model_learned_from_moves_nothing(fake_backend, alice):
    client = client_for(alice)
    photo = SimpleUploadedFile("b.jpg", jpeg_bytes(seed=4))
    created = client.post("/api/predictions/", {"image": photo, "consent": "true"}, format="multipart").json()
    live = fake_backend.live_version()

    assert client.delete(f"/api/predictions/{created['id']}/").status_code == 204

    assert fake_backend.live_version() == live
    assert not ModelChange.objects.exists()


def test_undoing_a_label_learned_before_a_photo_was_forgotten_refits_instead_of_going_back(fake_backend, alice):
    client = client_for(alice)
    anchor = fake_backend.live_version()
    forgotten, undone = upload_labeled(client, "happy", seed=5), upload_labeled(client, "sad", seed=6)
    client.delete(f"/api/predictions/{forgotten['image']}/")

    assert client.delete(f"/api/annotations/{undone['id']}/").status_code == 204

    live = fake_backend.live_version()
    # Going back to the version before "sad" would bring "happy" back: the photo its parent deleted.
    assert live != forgotten["model_version"] and fake_backend.version_info(live).tags["kind"] == "unlearn"
    assert np.array_equal(fake_backend.version_scores(live), anchor_plus(fake_backend, anchor))


def test_a_learned_photo_deleted_leaves_the_real_live_model_within_a_minute_and_learning_goes_on(
    alice, make_annotator, make_images, live_model
):
    registry = ml.backend().registry()
    client = client_for(alice)
    gone, kept, later = make_images(3)
    for image, name in ((gone, "happy"), (kept, "sad")):
        assert client.post("/api/annotations/", {"image": image, "label": name}, format="json").status_code == 201
    learned_live = registry.live_version()
    admin = make_annotator("root", is_staff=True)

    started = time.monotonic()
    assert client_for(admin).delete(f"/api/predictions/{gone}/").status_code == 204
    took = time.monotonic() - started

    live = registry.live_version()
    info = registry.version_info(live)
    assert took < 60 and live != learned_live
    assert (info.tags["kind"], info.parent, info.tags["guard_anchor"]) == ("unlearn", learned_live, live_model)
    assert info.tags["reason"] == f"deleted: image {gone}" and info.params["labels"] == "1"
    assert ModelChange.objects.get(action=ModelChange.Action.UNLEARN).version == live
    assert ml.backend().served().version == live
    # The next label is learned onto the refitted version, judged against the same anchor.
    after = client.post("/api/annotations/", {"image": later, "label": "fear"}, format="json").json()
    assert after["status"] == "learned" and after["parent_version"] == live
    assert registry.version_info(after["model_version"]).tags["guard_anchor"] == live_model
