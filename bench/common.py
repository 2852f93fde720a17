"""What the bench scripts share: where the shared data lives, and percentiles of timings."""

from __future__ import annotations

import statistics
from pathlib import Path

from mlcore.datasets import DataFolders, data_folders

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shared_data() -> DataFolders:
    """The training data beside the checkout (``../shared/data``), where a development machine keeps it."""
    return data_folders(SHARED_DATA)


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
