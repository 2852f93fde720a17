"""A label the forgetting guard held back says why in the API (``"reason"``); any other label says nothing."""

from __future__ import annotations

import pytest

from annotations.models import Annotation
from tests.annotations.conftest import client_for
from tests.annotations.test_learning import upload_labeled

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_jobs")]


def test_a_held_back_label_gives_the_guards_reason_and_a_learned_one_none(fake_backend, alice):
    client = client_for(alice)
    learned = upload_labeled(client, "happy", seed=1)
    fake_backend.hold_back = True

    held = upload_labeled(client, "fear", seed=2)

    assert (learned["status"], learned["reason"]) == ("learned", None)
    assert held["status"] == "held_back"
    assert held["reason"] == "failed: the fake holds every label back"
    fetched = client.get(f"/api/annotations/{held['id']}/").json()
    assert fetched["reason"] == held["reason"]
    assert {"id", "status", "model_version", "label", "parent_version"} <= set(fetched)  # the fields it always had


def test_a_label_that_is_no_longer_held_back_drops_its_old_reason(fake_backend, alice):
    # A held-back label relearned (after an undo, say) keeps its note in the database until rewritten;
    # the API gives a reason only while the label is held back.
    client = client_for(alice)
    fake_backend.hold_back = True
    held = upload_labeled(client, "sad", seed=3)
    Annotation.objects.filter(pk=held["id"]).update(status=Annotation.Status.LEARNED)

    assert client.get(f"/api/annotations/{held['id']}/").json()["reason"] is None
