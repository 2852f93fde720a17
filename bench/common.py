"""What the bench scripts share: where the shared data lives, the recipe they train from, percentiles of timings."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from mlcore.datasets import DataFolders, data_folders

if TYPE_CHECKING:
    from mlcore.training import TrainConfig

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data() -> DataFolders:
    """The training data beside the checkout (``../shared/data``), where a development machine keeps it."""
    return data_folders(SHARED_DATA)


def base_config(preset: str, found: DataFolders) -> TrainConfig:
    """The recipe every cross-validated one overrides: the training defaults, or seconds-long tiny settings."""
    from mlcore.training import TrainConfig

    assert found.infant_dir is not None
    if preset == "tiny":
        return TrainConfig.tiny(fer_csv=found.fer_csv, image_dir=found.infant_dir, work_dir=Path("unused"))
    # Face crops cached by content and detector, as ablations and `manage.py train` keep them.
    return TrainConfig(fer_csv=found.fer_csv, image_dir=found.infant_dir, cache_dir=REPO / "var" / "cache" / "faces")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    """p50, p95 and mean of timings in milliseconds, rounded for a JSON report."""
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }
