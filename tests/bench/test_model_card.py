"""The model card: regenerated from a JSON of figures, in step with it, and refused when a figure is missing."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.model_card import CARD, FIGURES, MissingFigure, render, write_card

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def figures() -> dict[str, Any]:
    return json.loads(FIGURES.read_text())


def test_the_committed_card_is_the_rendering_of_the_committed_figures() -> None:
    assert CARD.read_text() == render(json.loads(FIGURES.read_text())), "run bench/accuracy.py --card"


def test_a_figure_changed_in_the_json_changes_the_card(figures: dict[str, Any], tmp_path: Path) -> None:
    figures["evaluation"]["cross_validated"]["accuracy"] = 0.612
    figures["evaluation"]["per_class"]["recall"]["disgust"] = 0.33
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    card = write_card(tmp_path / "figures.json", tmp_path / "card.md").read_text()
    assert "| accuracy, 7 classes (n = 437) | **0.612** |" in card
    assert "| disgust | 56 | 0.33 |" in card


@pytest.mark.parametrize(
    "path",
    ["evaluation.cross_validated.accuracy", "evaluation.per_class.recall.fear", "limits.skin_tones", "use.unintended"],
)
def test_a_missing_figure_is_named(figures: dict[str, Any], path: str) -> None:
    broken = copy.deepcopy(figures)
    *parents, leaf = path.split(".")
    holder = broken
    for key in parents:
        holder = holder[key]
    del holder[leaf]
    with pytest.raises(MissingFigure) as raised:
        render(broken)
    assert str(raised.value) == f"the model card needs the figure {path!r}, which the JSON does not give"


def test_a_null_figure_counts_as_missing(figures: dict[str, Any]) -> None:
    figures["calibration"]["ece"] = None
    with pytest.raises(MissingFigure, match=r"'calibration\.ece'"):
        render(figures)


def test_the_command_fails_loudly_and_writes_nothing_on_a_small_json(tmp_path: Path) -> None:
    small = {"model": {"summary": "a model"}, "data": {"infant": {"n": 3}}}
    (tmp_path / "small.json").write_text(json.dumps(small))
    done = subprocess.run(
        [
            sys.executable,
            "bench/accuracy.py",
            "--card",
            str(tmp_path / "small.json"),
            "--card-out",
            str(tmp_path / "c.md"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "needs the figure 'data.infant.photos_per_class'" in done.stderr
    assert not (tmp_path / "c.md").exists()
