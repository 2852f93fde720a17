"""Online learning against the in-memory backend: each label that goes live is an audited alias move."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Annotation
from modelops.models import ModelChange
from tests.annotations.conftest import client_for
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def upload_labeled(client, label: str, seed: int) -> dict:  # type: ignore[no-untyped-def]
    photo = SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(seed=seed))
    response = client.post("/api/labeled-images/", {"image": photo, "label": label}, format="multipart")
    assert response.status_code == 201
    return response.json()


def test_every_learned_label_moves_the_alias_through_the_audit_log(fake_backend, alice):
    client = client_for(alice)
    start = fake_backend.live_version()

    happy = upload_labeled(client, "happy", seed=1)
    sad = upload_labeled(client, "sad", seed=2)

    assert (happy["status"], sad["status"]) == ("learned", "learned")
    assert fake_backend.live_version() == sad["model_version"]
    moves = list(ModelChange.objects.order_by("id").values_list("action", "previous_version", "version"))
    assert moves == [("learn", start, happy["model_version"]), ("learn", happy["model_version"], sad["model_version"])]


def test_a_label_the_guard_holds_back_moves_nothing_and_says_so(fake_backend, alice):
    fake_backend.hold_back = True
    start = fake_backend.live_version()

    body = upload_labeled(client_for(alice), "fear", seed=3)

    assert body["status"] == "held_back"
    assert fake_backend.live_version() == start
    assert not ModelChange.objects.exists()
    assert Annotation.objects.get(pk=body["id"]).guard_note.startswith("failed")


def test_undo_moves_live_back_with_an_audit_row_and_relearns_the_later_label(fake_backend, alice):
    client = client_for(alice)
    start = fake_backend.live_version()
    first = upload_labeled(client, "happy", seed=4)
    second = upload_labeled(client, "sad", seed=5)

    assert client.delete(f"/api/annotations/{first['id']}/").status_code == 204

    undo = ModelChange.objects.get(action=ModelChange.Action.UNDO)
    assert (undo.version, undo.previous_version) == (start, second["model_version"])
    relearned = Annotation.objects.get(pk=second["id"])
    assert relearned.status == "learned" and relearned.parent_version == start
    undone = {first["model_version"], second["model_version"]}
    assert fake_backend.live_version() == relearned.model_version not in undone
