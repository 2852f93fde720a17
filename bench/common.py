"""What the bench scripts share: where the shared data lives, and percentiles of timings."""

from __future__ import annotations

from pathlib import Path

from mlcore.datasets import DataFolders, data_folders

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shared_data() -> DataFolders:
    """The training data beside the checkout (``../shared/data``), where a development machine keeps it."""
    return data_folders(SHARED_DATA)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
