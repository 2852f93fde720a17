"""What a full training learns from: the data folder's two datasets, and every image users labeled to consensus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from predictions.ml import LABELS
from predictions.models import Prediction


def data_folders(data_dir: Path) -> tuple[Path | None, Path | None]:
    """The FER2013 CSV (the first ``fer2013/*.csv*`` by name) and the infant image folder (``infant/``), if present."""
    fer_dir, infant = data_dir / "fer2013", data_dir / "infant"
    found = sorted(fer_dir.glob("*.csv*")) if fer_dir.is_dir() else []
    return (found[0] if found else None), (infant if infant.is_dir() else None)


def training_folder_build(*, dataset: Path | None, labeled: Sequence[tuple[Prediction, str]], target: Path) -> Path:
    """One folder per label holding the infant dataset (linked, not copied) and the images users labeled."""
    for label in LABELS:
        (target / label).mkdir(parents=True, exist_ok=True)
    if dataset is not None:
        for folder in (dataset / label for label in LABELS):
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                link = target / folder.name / f"dataset-{path.name}"
                if not link.exists():
                    link.symlink_to(path.resolve())
    for prediction, label in labeled:
        path = target / label / f"labeled-{Path(prediction.image.name).name}"
        if not path.exists():
            with prediction.image.open("rb") as source:
                path.write_bytes(source.read())
    return target
