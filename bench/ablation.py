"""Ablations of the training recipe, run one after another: `python bench/ablation.py [--only NAME ...]`.

Every variant trains into its own MLflow store (``var/ablation/``, nothing goes live in the app)
and is scored on the same held-out infant photos (the split depends only on the seed). Variants
that share the full recipe's FER2013 stage start from its post-FER checkpoint (``--fer-from``), and
their reported time adds that stage's measured seconds, so every row's time is what a run from
scratch would take. Results go to ``var/ablation/results.jsonl`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bench.common import SHARED_DATA  # noqa: E402
from mlcore.datasets import data_folders  # noqa: E402

if TYPE_CHECKING:
    from mlcore.registry import Registry
    from mlcore.training import TrainConfig

VARIANTS: dict[str, dict[str, object]] = {
    "full": {},
    "no_face_crop": {"face_detector": "none"},
    "haar_crop": {"face_detector": "haar"},
    "no_fer_pretraining": {"fer_steps": 0},
    "no_target_adaptation": {"infant_epochs": 0, "adapt_bn": False},
    "no_adabn": {"adapt_bn": False},
    "size_96": {"image_size": 96},
    "size_96_no_fer": {"image_size": 96, "fer_steps": 0},
}
# Variants whose FER2013 stage is the full recipe's own (same size, same seed; the crop does not touch FER).
SHARES_FER_STAGE = {"no_face_crop", "haar_crop", "no_target_adaptation", "no_adabn"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), help="variants to run (default: all)")
    parser.add_argument(
        "--fer-from", type=Path, help="post-FER checkpoint (after_fer.pt) of a full-recipe run at the default size"
    )
    parser.add_argument("--fer-steps", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "ablation")
    args = parser.parse_args()
    found = data_folders(args.data)
    if found.infant_dir is None:
        sys.exit(f"no infant images under {args.data}: the ablations need the shared data")
    if found.fer_csv is None:
        sys.exit(f"no FER2013 CSV under {args.data}: the ablations need the shared data")

    import torch

    from mlcore.registry import Registry
    from mlcore.training import AFTER_FER, TrainConfig

    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    registry = Registry(
        f"sqlite:///{args.out / 'mlflow.db'}", artifact_root=(args.out / "artifacts").as_uri(), model_name="ablation"
    )
    base = TrainConfig(
        fer_csv=found.fer_csv,
        image_dir=found.infant_dir,
        cache_dir=ROOT / "var" / "cache" / "faces",
        fer_steps=args.fer_steps,
        infant_epochs=args.epochs,
    )
    fer_from = args.fer_from
    rows = []
    for name in args.only or list(VARIANTS):
        config = replace(base, work_dir=args.out / name, tags={"ablation": name}, **VARIANTS[name])  # type: ignore[arg-type]
        shared = name in SHARES_FER_STAGE and fer_from is not None
        if shared:
            config = replace(config, init_checkpoint=fer_from)
        rows.append(run_variant(name, config, registry, shared=shared, out=args.out))
        if name == "full" and fer_from is None:
            fer_from = Path(config.work_dir) / AFTER_FER
    print_table(rows)


def run_variant(name: str, config: TrainConfig, registry: Registry, *, shared: bool, out: Path) -> dict[str, Any]:
    """Train one variant, append its row to ``results.jsonl`` and return it."""
    from mlcore.training import train

    started = time.monotonic()
    result = train(config, registry)
    wall = time.monotonic() - started
    m = result.metrics
    row = {
        "variant": name,
        "version": result.version,
        "test_accuracy": m["test_infant_accuracy"],
        "test_macro_f1": m["test_infant_macro_f1"],
        "test_ece": m["test_infant_ece"],
        "val_accuracy": m["infant_accuracy"],
        "fer_accuracy": m.get("fer_accuracy"),
        "train_seconds": result.seconds,
        "wall_seconds_this_run": wall,
        "shared_fer_stage": shared,
        "face_found": m["infant_face_found"],
        "stage_seconds": result.stage_seconds,
    }
    with open(out / "results.jsonl", "a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| variant | held-out acc | held-out macro-F1 | ECE | FER val acc | train time (min) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        fer = f"{r['fer_accuracy']:.3f}" if r["fer_accuracy"] is not None else "–"
        print(
            f"| {r['variant']} | {r['test_accuracy']:.3f} | {r['test_macro_f1']:.3f} | {r['test_ece']:.3f} | "
            f"{fer} | {r['train_seconds'] / 60:.1f} |"
        )


if __name__ == "__main__":
    main()
