"""Does labeling through InfantinO make the model better on photos nobody labeled, and which order and method most?

The infant dev photos are split once (grouped by near-duplicates, stratified, fixed seed) into five folds: two
train the start model, two are the pool a simulated annotator labels with their true labels, one is held out and
only scored. The start model (``TrainConfig`` defaults, or a minutes-long recipe with ``--quick``) is trained once
per recipe and split and kept in ``--work``. Then, for each seed, the pool is labeled through the app's real
service path (queue → label → online update with the guard) in three orders — the queue's own (uncertainty +
diversity, re-read after every label), random, least confident under the live head — and each run's labels are
also refitted into a head at every checkpoint (the periodic-refit method). A full retrain on the start photos plus
all pool labels is the last point (``--skip-retrain`` omits it). After 0, 25, 50, 100, 200 and all labels:
held-out accuracy and macro-F1, FER2013 validation accuracy and labels held back by the guard.

Prints one JSON object (and writes it to ``--out``) and draws the curve as a PNG (``--plot``).

    .venv/bin/python bench/learning_curve.py [--quick] [--seeds 3] [--work DIR] [--out FILE] [--plot FILE]

``--preset tiny --quick`` trains ``TrainConfig.tiny`` (32 px, random weights): seconds, a smoke check of the path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bench import learning_curve_maths as maths  # noqa: E402
from bench.common import shared_data  # noqa: E402
from bench.learning_curve_maths import Curve  # noqa: E402

if TYPE_CHECKING:
    from bench.crossval import Folds
    from bench.learning_curve_run import Pool
    from bench.learning_curve_start import Start
    from mlcore.training import TrainConfig

QUICK_LABELS = 50  # pool labels a quick run gives per run
REFIT_EPOCHS, QUICK_REFIT_EPOCHS = 60, 20


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short recipe and fewer labels: a few minutes")
    parser.add_argument("--seeds", type=int, default=3, help="runs per variant (at least 3 for the findings)")
    parser.add_argument("--split-seed", type=int, default=0, help="deals the five folds")
    parser.add_argument("--labels", type=int, default=None, help="labels per run (default: the whole pool)")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "learning_curve", help="cache folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--plot", type=Path, default=None, help="the PNG (default: beside --out, else in --work)")
    parser.add_argument("--skip-retrain", action="store_true", help="no full retrain point")
    parser.add_argument(
        "--preset", choices=("full", "tiny"), default="full", help="tiny: TrainConfig.tiny, seconds (a smoke check)"
    )
    args = parser.parse_args()
    if shared_data().infant_dir is None:
        sys.exit("no infant photos under ../shared/data: the learning curve needs the dev photos")
    return args


def main() -> None:
    args = arguments()
    started = time.monotonic()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    from bench.online import start_django

    start_django(Path(tempfile.mkdtemp(prefix="infantino-bench-curve-")))
    import torch

    torch.set_num_threads(2)
    setup = prepared(args, work)
    runs = run_variants(setup, args)
    retrain = None if args.quick or args.skip_retrain else retrain_summary(setup, work)
    report = build_report(setup, runs, retrain, args)
    plot_path = args.plot or (args.out.with_suffix(".png") if args.out else work / "learning_curve.png")
    from bench.learning_curve_plot import plot

    title = f"Held-out infant accuracy against labels ({'quick' if args.quick else 'full'} run)"
    retrain_at = (retrain["labels"], retrain["accuracy"]) if retrain else None
    report["plot"] = str(plot(grouped(runs), plot_path, retrain=retrain_at, title=title))
    report["bench_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


@dataclass(frozen=True)
class Setup:
    """What every run shares: the split, the recipe, the start model and the pool as the app holds it."""

    folds: Folds
    split: maths.Partition
    overrides: dict[str, Any]
    config: TrainConfig
    start: Start
    start_seconds: float
    pool: Pool
    marks: list[int]


def prepared(args: argparse.Namespace, work: Path) -> Setup:
    """Split the photos, train (or reuse) the start model, upload the pool into the throw-away app."""
    from bench.common import base_config
    from bench.crossval import photo_folds
    from bench.learning_curve_run import pool_items, prepare
    from bench.learning_curve_start import QUICK_RECIPE, start_config, start_model

    data = shared_data()
    assert data.infant_dir is not None
    folds = photo_folds(data.infant_dir, k=maths.FOLDS, seed=args.split_seed)
    split = maths.partition(folds)
    base = base_config(args.preset, data)
    overrides = QUICK_RECIPE if args.quick and args.preset == "full" else {}
    config = start_config(base, overrides, folds, split)
    t0 = time.monotonic()
    start = start_model(config, folds, split, work=work)
    start_seconds = time.monotonic() - t0
    pool = prepare(start, pool_items(data.infant_dir, [folds.names[i] for i in split.pool], folds.labels[split.pool]))
    total = min(args.labels or len(pool.images), QUICK_LABELS if args.quick else len(pool.images))
    return Setup(
        folds=folds,
        split=split,
        overrides=overrides,
        config=config,
        start=start,
        start_seconds=start_seconds,
        pool=pool,
        marks=maths.checkpoints(total),
    )


def run_variants(setup: Setup, args: argparse.Namespace) -> list[Curve]:
    """Every order under every seed through the app, each followed by the refit of the same labels."""
    from bench.learning_curve_run import ORDERS, online_run, refit_run

    curves = []
    epochs = QUICK_REFIT_EPOCHS if args.quick else REFIT_EPOCHS
    for seed in range(args.seeds):
        for order in ORDERS:
            online, done = online_run(setup.pool, setup.start, order=order, seed=seed, marks=setup.marks)
            curves += [online, refit_run(setup.pool, setup.start, online, done, epochs=epochs)]
            print(f"seed {seed} {order}: {online.points[-1].accuracy:.3f} after {len(done)} labels", file=sys.stderr)
    return curves


def retrain_summary(setup: Setup, work: Path) -> dict[str, Any]:
    """The full retrain's point, with its paired gain over the start model on the held-out photos."""
    from bench.learning_curve_start import retrain_point
    from mlcore.comparison import paired_difference

    point = retrain_point(setup.config, setup.folds, setup.split, work=work)
    start_correct = setup.start.held_y == setup.start.model.probabilities(setup.start.held_x).argmax(axis=1)
    found = paired_difference(start_correct, point.pop("correct"))
    point["gain_vs_start"] = {"difference": round(found.value, 4), "ci95": [round(found.low, 4), round(found.high, 4)]}
    return point


def grouped(runs: list[Curve]) -> dict[str, list[Curve]]:
    variants: dict[str, list[Curve]] = {}
    for curve in runs:
        variants.setdefault(curve.variant, []).append(curve)
    return variants


def build_report(
    setup: Setup, runs: list[Curve], retrain: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """Per-variant summaries and the findings the issue asks for."""
    variants = grouped(runs)
    return {
        "bench": "learning_curve",
        "quick": args.quick,
        "seeds": args.seeds,
        "split": {
            "seed": args.split_seed,
            "start_photos": len(setup.split.start),
            "pool_photos": len(setup.split.pool),
            "held_out_photos": len(setup.split.held),
        },
        "recipe_overrides": setup.overrides,
        "start": {
            "version": setup.start.version,
            "seconds_to_train_or_load": round(setup.start_seconds, 1),
            "guard_validation": {d: len(y) for d, y in setup.start.reference.val_y.items()},
        },
        "checkpoints": setup.marks,
        "variants": {name: maths.variant_summary(curves) for name, curves in sorted(variants.items())},
        "retrain": retrain,
        "findings": findings(variants, setup.marks[-1]),
    }


def findings(variants: dict[str, list[Curve]], total: int) -> dict[str, Any]:
    """Labels the queue needs to match random at 100, the online-refit gap, FER drop and held-back share."""
    reach_at = min(maths.REACH_AT, total)
    target = maths.accuracy_at(variants["random/online"], reach_at)
    per_order = {}
    for order in ("queue", "random", "least_confident"):
        online, refit = variants[f"{order}/online"], variants[f"{order}/refit"]
        per_order[order] = {
            "gain_vs_start": maths.gain(online),
            "online_minus_refit_after_all": round(maths.paired_gap(online, refit), 4),
            "fer_drop_points": maths.fer_drop(online),
            "held_back_share": round(maths.held_back_share(online), 4),
        }
    needed = maths.labels_to_reach(target, variants["queue/online"])
    return {
        "criteria": maths.criteria(
            variants["queue/online"], variants["queue/refit"], reach_at=reach_at, labels_needed=needed
        ),
        "random_accuracy_at": {"labels": reach_at, "accuracy": round(target, 4)},
        "queue_labels_to_reach_it": needed,
        "least_confident_labels_to_reach_it": maths.labels_to_reach(target, variants["least_confident/online"]),
        "by_order": per_order,
    }


if __name__ == "__main__":
    main()
