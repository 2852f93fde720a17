"""The one alias service: every move is checked, recorded and announced, whoever asks for it."""

from __future__ import annotations

import pytest

from modelops.models import ModelChange
from modelops.services import ModelChangeError, live_version_move, model_promote, model_rollback

pytestmark = pytest.mark.django_db


def test_a_move_serves_the_version_then_moves_the_alias_and_writes_an_audit_row(fake_backend):
    before = fake_backend.live_version()
    newer = fake_backend.add_version(kind="retrain")

    change = live_version_move(version=newer, action=ModelChange.Action.TRAIN, by="train")

    assert fake_backend.live_version() == newer and fake_backend.serving == newer
    assert fake_backend.moves[-1] == (newer, "train")
    assert (change.action, change.version, change.previous_version) == ("train", newer, before)


def test_a_version_whose_files_are_refused_never_goes_live_and_leaves_no_audit_row(fake_backend):
    before = fake_backend.live_version()
    tampered = fake_backend.add_version()
    fake_backend.refused.add(tampered)

    with pytest.raises(ModelChangeError, match="cannot be served"):
        live_version_move(version=tampered, action=ModelChange.Action.PROMOTE)

    assert fake_backend.live_version() == before
    assert not ModelChange.objects.filter(version=tampered).exists()


def test_promoting_an_unknown_or_the_live_version_is_refused(fake_backend):
    with pytest.raises(ModelChangeError, match="no model version 99"):
        model_promote(version="99", user=None)
    with pytest.raises(ModelChangeError, match="already live"):
        model_promote(version=fake_backend.live_version(), user=None)
    assert ModelChange.objects.count() == 0


def test_rollback_returns_to_the_version_the_audit_log_says_was_live_before(fake_backend, django_user_model):
    admin = django_user_model.objects.create_user(username="admin", is_staff=True)
    first = fake_backend.live_version()
    second = fake_backend.add_version()
    third = fake_backend.add_version(parent=second)
    model_promote(version=second, user=admin, reason="better on infants")
    live_version_move(version=third, action=ModelChange.Action.LEARN, by="annotation 7")

    rollback = model_rollback(user=admin, reason="the label was wrong")

    assert fake_backend.live_version() == second
    assert (rollback.action, rollback.version, rollback.previous_version) == ("rollback", second, third)
    assert model_rollback(user=admin).version == third  # the rollback is itself a move: rolling it back goes forward
    assert first not in {change.version for change in ModelChange.objects.all()}


def test_rollback_without_a_recorded_move_says_there_is_nothing_to_go_back_to(fake_backend):
    with pytest.raises(ModelChangeError, match="no earlier version"):
        model_rollback(user=None)
