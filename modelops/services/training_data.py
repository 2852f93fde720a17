"""The image folder a retrain learns from: the infant dataset plus every shared image users labeled to consensus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from predictions.ml import LABELS
from predictions.models import Prediction


def training_folder_build(*, dataset: Path | None, labeled: Sequence[tuple[Prediction, str]], target: Path) -> Path:
    """One folder per label holding the infant dataset (linked, not copied) and the images users labeled."""
    for label in LABELS:
        (target / label).mkdir(parents=True, exist_ok=True)
    if dataset is not None:
        for folder in (dataset / label for label in LABELS):
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                # Its own name: the split a training records then names the photos as the starter's does, so the
                # two are scored on the same held-out photos (bench/accuracy.py pairs them).
                link = target / folder.name / path.name
                if not link.exists():
                    link.symlink_to(path.resolve())
    for prediction, label in labeled:
        path = target / label / f"labeled-{Path(prediction.image.name).name}"
        if not path.exists():
            with prediction.image.open("rb") as source:
                path.write_bytes(source.read())
    return target
