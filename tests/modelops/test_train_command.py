"""`manage.py train` registers a version and makes it live through the one alias service, unless told not to."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from modelops.models import ModelChange
from tests.mlcore.tiny_data import image_folder

pytestmark = pytest.mark.django_db


def _train(*args: str) -> str:
    out = io.StringIO()
    call_command("train", *args, "--face-detector", "none", "--threads", "1", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def data(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path / "var"
    image_folder(tmp_path / "data" / "infant", per_label=1)
    return tmp_path / "data"


def test_a_trained_version_goes_live_with_an_audit_row(fake_backend, data):
    out = _train("--data", str(data))

    live = fake_backend.live_version()
    assert f"Model version {live} is live" in out
    assert fake_backend.moves[-1] == (live, "train")
    assert ModelChange.objects.get().action == ModelChange.Action.TRAIN


def test_with_no_promote_the_version_is_only_registered(fake_backend, data):
    before = fake_backend.live_version()

    out = _train("--data", str(data), "--no-promote")

    assert "registered" in out and fake_backend.live_version() == before
    assert not ModelChange.objects.exists()


def test_without_infant_images_it_says_how_to_give_them(fake_backend, tmp_path):
    with pytest.raises(CommandError, match="no infant images"):
        _train("--data", str(tmp_path / "empty"))


def test_pseudo_labels_need_the_photos_nobody_labeled(fake_backend, data):
    with pytest.raises(CommandError, match="--unlabeled"):
        _train("--data", str(data), "--pseudo-confidence", "0.9")


def test_the_unlabeled_folders_images_reach_the_training_at_any_depth(fake_backend, data, tmp_path, monkeypatch):
    from PIL import Image

    nested = tmp_path / "uploads" / "2026" / "12"
    nested.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(nested / "a.jpg")
    (nested / "notes.txt").write_text("not a photo")
    runs = []
    original = fake_backend.train
    monkeypatch.setattr(fake_backend, "train", lambda run: runs.append(run) or original(run))

    _train("--data", str(data), "--unlabeled", str(tmp_path / "uploads"), "--pseudo-confidence", "0.9")

    assert runs[0].options["unlabeled"] == (str(nested / "a.jpg"),)
    assert runs[0].options["pseudo_confidence"] == 0.9
