"""`manage.py evaluate DATA --json` prints one JSON object, and nothing else, on stdout."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from mlcore.labels import LABELS
from tests.mlcore.tiny_data import fer_csv, image_folder


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_only_the_json_document_for_an_image_folder(live_model, tmp_path, capsys):
    out, _ = _run(str(image_folder(tmp_path / "imgs", per_label=2)), "--json")
    assert capsys.readouterr().out == ""
    document = json.loads(out)  # raises if anything else was printed
    assert set(document) == {"n", "accuracy", "macro_f1", "per_class", "ece", "model_version"}
    assert document["n"] == 15 and document["model_version"] == live_model
    assert list(document["per_class"]) == list(LABELS)
    assert 0.0 <= document["accuracy"] <= 1.0 and 0.0 <= document["ece"] <= 1.0


def test_it_evaluates_a_fer_csv_and_reports_absent_labels_as_null(live_model, tmp_path):
    path = fer_csv(tmp_path / "fer.csv", per_label=3)
    out, _ = _run(str(path), "--json", "--limit", "6")  # the first six rows: angry and disgust only
    document = json.loads(out)
    assert document["n"] == 6
    assert document["per_class"]["happy"] is None and document["per_class"]["angry"] is not None


def test_a_missing_path_is_a_command_error(live_model, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _run(str(tmp_path / "nowhere"), "--json")


def test_without_a_live_model_it_says_so(model_registry, tmp_path):
    with pytest.raises(CommandError, match="no model"):
        _run(str(image_folder(tmp_path / "imgs", per_label=1)), "--json")
