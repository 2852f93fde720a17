"""What the bench scripts share: where the shared data lives, the recipe they train from, percentiles of timings,
and the CPU every timing table names."""

from __future__ import annotations

import os
import statistics
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def cpu() -> dict[str, Any]:
    """``lscpu``'s model name and the vector extensions that decide how fast convolutions run."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    return {
        "model": fields.get("Model name", "?").strip(),
        "cpus": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512": sorted(flag for flag in flags if flag.startswith("avx512")),
        "vnni": sorted(flag for flag in flags if "vnni" in flag),
    }
