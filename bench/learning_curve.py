"""Does labeling through InfantinO make the model better on photos nobody labeled, and which order and method most?

The infant dev photos are dealt once (grouped by near-duplicates, stratified, ``--split-seed``) into five folds.
By default (``--layout 1-3-1``) one fold trains the start model, three are the pool a simulated annotator labels
with their true labels, one is held out and only scored: a first model on ~90 photos, then ~260 labels through
the app. Each seed rotates the folds by one (seed s deals fold i + s), so every seed has its own start model,
pool and held-out photos, and the held-out photos of up to five seeds are disjoint: pooled, they are one larger
held-out set, and the gains and their intervals are paired over all of them. A start model (``TrainConfig``
defaults, or a minutes-long recipe with ``--quick``) is trained once per recipe and split and kept in ``--work``.
For each seed the pool is labeled through the app's real service path (queue → label → online update with the
guard) in three orders — the queue's own (uncertainty + diversity, re-read after every label), random, least
confident under the live head — and each run's labels are also refitted into a head at every checkpoint (the
periodic-refit method). The queue order, the one the app offers, is also scored with the app's periodic retrain
(every ``--retrain-every`` labels, INFANTINO_RETRAIN_EVERY's default; ``bench/learning_curve_retrain.py``): that
line is the shipped path. A full retrain on the start photos plus all pool labels is the last point
(``--skip-retrain`` omits it). The first start model's FER2013 stage is kept in ``--work`` and shared by every
later training of the run (``--fer-checkpoint`` names one instead). After 0, 25, 50, 100, 200 and all labels:
held-out accuracy and macro-F1, FER2013 validation accuracy and labels held back by the guard.

Prints one JSON object (and writes it to ``--out``) and draws the curve as a PNG (``--plot``).

    .venv/bin/python bench/learning_curve.py [--quick] [--seeds 3] [--layout 1-3-1] [--fer-checkpoint PT]
        [--retrain-every N] [--work DIR] [--out FILE] [--plot FILE]

``--preset tiny --quick`` trains ``TrainConfig.tiny`` (32 px, random weights): seconds, a smoke check of the path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bench import learning_curve_maths as maths  # noqa: E402
from bench.common import shared_data  # noqa: E402
from bench.learning_curve_maths import Curve  # noqa: E402
from bench.learning_curve_run import ORDERS  # noqa: E402

if TYPE_CHECKING:
    from bench.crossval import Folds
    from bench.learning_curve_run import Pool
    from bench.learning_curve_start import Start
    from mlcore.training import TrainConfig

QUICK_LABELS = 50  # pool labels a quick run gives per run
SHIPPED_ORDER = "queue"  # the order the app offers: the one whose periodic retrains are run
RETRAIN_EVERY = 100  # INFANTINO_RETRAIN_EVERY's default; the bench's app is run without it and the bench trains them
REFIT_EPOCHS, QUICK_REFIT_EPOCHS = 60, 20


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short recipe and fewer labels: a few minutes")
    parser.add_argument("--seeds", type=int, default=3, help="runs per variant (at least 3 for the findings)")
    parser.add_argument("--split-seed", type=int, default=0, help="deals the five folds")
    parser.add_argument(
        "--layout", choices=sorted(maths.LAYOUTS), default=maths.LAYOUT, help="folds to start, pool and held-out"
    )
    parser.add_argument("--fer-checkpoint", type=Path, help="start from this after_fer.pt (same FER2013 settings)")
    parser.add_argument("--labels", type=int, default=None, help="labels per run (default: the whole pool)")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "learning_curve", help="cache folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--plot", type=Path, default=None, help="the PNG (default: beside --out, else in --work)")
    parser.add_argument("--skip-retrain", action="store_true", help="no full retrain point")
    parser.add_argument(
        "--orders", nargs="+", choices=ORDERS, default=list(ORDERS), help="orders to label in (default: all three)"
    )
    parser.add_argument(
        "--retrain-every",
        type=int,
        default=None,
        help=f"labels between the app's periodic retrains ({RETRAIN_EVERY}, quick: {QUICK_LABELS // 2}; 0: none)",
    )
    parser.add_argument(
        "--preset", choices=("full", "tiny"), default="full", help="tiny: TrainConfig.tiny, seconds (a smoke check)"
    )
    parser.add_argument(
        "--burst",
        action="store_true",
        help="also label the shipped order in bursts: each stretch between checkpoints posted at once, as an import "
        "or a script would, then scored once the app is idle",
    )
    parser.add_argument("--recipe", type=Path, help="a JSON of TrainConfig fields pinned over the defaults")
    args = parser.parse_args()
    if not 1 <= args.seeds <= maths.FOLDS:
        parser.error(f"--seeds is 1 to {maths.FOLDS}: beyond, seeds would hold out the same photos again")
    if args.retrain_every is None:
        args.retrain_every = QUICK_LABELS // 2 if args.quick else RETRAIN_EVERY
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
    plan = planned(args)
    runs, setups, retrains, notes = [], [], [], []
    for seed in range(args.seeds):
        setup = prepared(plan, seed, work)
        curves, found = run_variants(setup, plan, args, work)
        runs += curves
        notes += found
        setups.append(setup)
        if not (args.quick or args.skip_retrain):
            retrains.append(retrain_summary(plan, setup, work))
    retrain = maths.retrain_summary(retrains) if retrains else None
    report = build_report(plan, setups, runs, retrain, args)
    report["runs"] = notes  # per seed and order: what held labels back, and the periodic retrains
    plot_path = args.plot or (args.out.with_suffix(".png") if args.out else work / "learning_curve.png")
    from bench.learning_curve_plot import plot

    title = f"Held-out infant accuracy against labels ({'quick' if args.quick else 'full'} run)"
    retrain_at = (retrain["labels"], retrain["accuracy"]) if retrain else None
    report["plot"] = str(plot(maths.grouped(runs), plot_path, retrain=retrain_at, title=title))
    report["bench_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(report, indent=2, default=str)  # a FER2013 checkpoint override is a path
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


@dataclass(frozen=True)
class Plan:
    """What every seed shares: the folds, the layout, the recipe and how many labels each run gives."""

    folds: Folds
    layout: str
    base: TrainConfig
    overrides: dict[str, Any]
    marks: list[int]


@dataclass(frozen=True)
class Setup:
    """One seed: its rotation of the folds, its start model and its pool as the app holds it."""

    seed: int
    split: maths.Partition
    config: TrainConfig
    start: Start
    start_seconds: float
    pool: Pool
    marks: list[int]


def planned(args: argparse.Namespace) -> Plan:
    """The five folds, the recipe and the checkpoints: every seed labels as many photos as the smallest pool."""
    from bench.common import base_config
    from bench.crossval import photo_folds
    from bench.learning_curve_start import QUICK_RECIPE

    data = shared_data()
    assert data.infant_dir is not None
    folds = photo_folds(data.infant_dir, k=maths.FOLDS, seed=args.split_seed)
    overrides = dict(QUICK_RECIPE) if args.quick and args.preset == "full" else {}
    if args.recipe:
        overrides.update(json.loads(args.recipe.read_text()))
    if args.fer_checkpoint:
        overrides["init_checkpoint"] = args.fer_checkpoint.resolve()
    smallest = min(len(maths.partition(folds, args.layout, rotation=s).pool) for s in range(args.seeds))
    total = min(args.labels or smallest, QUICK_LABELS if args.quick else smallest)
    return Plan(folds, args.layout, base_config(args.preset, data), overrides, maths.checkpoints(total))


def prepared(plan: Plan, seed: int, work: Path) -> Setup:
    """Seed ``seed``'s rotation of the folds: its start model trained (or reused), its pool uploaded into the app."""
    from bench.learning_curve_run import pool_items, prepare
    from bench.learning_curve_start import (
        keep_fer_stage,
        shared_fer_stage,
        start_config,
        start_model,
        trained_before,
    )

    folds, infant_dir = plan.folds, plan.base.image_dir
    assert infant_dir is not None
    split = maths.partition(folds, plan.layout, rotation=seed)
    config = start_config(plan.base, plan.overrides, folds, split)
    shared = shared_fer_stage(config, work)
    if shared is not None and shared.exists() and not trained_before(config, work):
        config = replace(config, init_checkpoint=shared)  # the seed that trained the stage keeps its own start
    t0 = time.monotonic()
    start = start_model(config, folds, split, work=work)
    start_seconds = time.monotonic() - t0
    if shared is not None and config.init_checkpoint is None:  # the first start trained the stage: keep it
        config = replace(config, init_checkpoint=keep_fer_stage(config, start, work))
    pool = prepare(start, pool_items(Path(infant_dir), [folds.names[i] for i in split.pool], folds.labels[split.pool]))
    return Setup(seed, split, config, start, start_seconds, pool, plan.marks)


def run_variants(setup: Setup, plan: Plan, args: argparse.Namespace, work: Path) -> tuple[list[Curve], list[Any]]:
    """Every order on this seed's pool through the app, each followed by the refit of the same labels; the shipped
    order also with the app's periodic retrain (``bench.learning_curve_retrain``). The curves, and per run what
    held labels back and the retrains it made."""
    from django.conf import settings

    from bench.learning_curve_retrain import retrain_run
    from bench.learning_curve_run import online_run, refit_run

    curves, notes = [], []
    epochs = QUICK_REFIT_EPOCHS if args.quick else REFIT_EPOCHS
    seed = setup.seed
    for order in args.orders:
        run = online_run(setup.pool, setup.start, order=order, seed=seed, marks=setup.marks)
        curves += [run.curve, refit_run(setup.pool, setup.start, run.curve, run.done, epochs=epochs)]
        notes.append({"seed": seed, "order": order, "held_back_rules": run.held_back_rules, "seconds": run.seconds})
        print(f"seed {seed} {order}: {run.curve.points[-1].accuracy:.3f} after {len(run.done)} labels", file=sys.stderr)
        if order == SHIPPED_ORDER and args.burst:
            burst = online_run(setup.pool, setup.start, order=order, seed=seed, marks=setup.marks, burst=True)
            curves.append(burst.curve)
            notes.append(
                {
                    "seed": seed,
                    "order": f"{order} (burst)",
                    "held_back_rules": burst.held_back_rules,
                    "seconds": burst.seconds,
                }
            )
            print(f"seed {seed} {order} in bursts: {burst.curve.points[-1].accuracy:.3f}", file=sys.stderr)
        if order == SHIPPED_ORDER and args.retrain_every > 0:
            curve, made = retrain_run(
                setup.config,
                plan.folds,
                setup.split,
                online=run.curve,
                done=run.done,
                live_metrics=run.live_metrics,
                pool=setup.pool,
                work=work,
                every=args.retrain_every,
                consolidate_every=settings.INFANTINO_CONSOLIDATE_EVERY,
            )
            curves.append(curve)
            notes[-1]["retrains"] = made
            print(f"seed {seed} {order} with retrains: {curve.points[-1].accuracy:.3f}", file=sys.stderr)
    return curves, notes


def retrain_summary(plan: Plan, setup: Setup, work: Path) -> dict[str, Any]:
    """This seed's full retrain point (start photos + every pool label), with its start model's answers."""
    from bench.learning_curve_start import retrain_point

    point = retrain_point(setup.config, plan.folds, setup.split, work=work)
    point["start_correct"] = setup.start.held_y == setup.start.model.probabilities(setup.start.held_x).argmax(axis=1)
    return point


def build_report(
    plan: Plan, setups: list[Setup], runs: list[Curve], retrain: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """Per-variant summaries and the findings the issue asks for."""
    variants = maths.grouped(runs)
    return {
        "bench": "learning_curve",
        "quick": args.quick,
        "seeds": args.seeds,
        "split": {"seed": args.split_seed, "layout": plan.layout, "rotated_by_seed": True},
        "recipe_overrides": plan.overrides,
        "starts": [
            {
                "seed": setup.seed,
                "photos": {side: len(getattr(setup.split, side)) for side in ("start", "pool", "held")},
                "version": setup.start.version,
                "seconds_to_train_or_load": round(setup.start_seconds, 1),
                "guard_validation": {d: len(y) for d, y in setup.start.reference.val_y.items()},
            }
            for setup in setups
        ],
        "checkpoints": plan.marks,
        "variants": {name: maths.variant_summary(curves) for name, curves in sorted(variants.items())},
        "retrain": retrain,
        "findings": findings(variants, plan.marks[-1]),
    }


def findings(variants: dict[str, list[Curve]], total: int) -> dict[str, Any]:
    """Labels the queue needs to match random at 100, the online-refit gap, FER drop and held-back share."""
    reach_at = min(maths.REACH_AT, total)
    has_random = "random/online" in variants
    target = maths.accuracy_at(variants["random/online"], reach_at) if has_random else None
    per_order = {
        order: {
            "gain_vs_start": maths.gain(variants[f"{order}/online"]),
            "online_minus_refit_after_all": round(
                maths.paired_gap(variants[f"{order}/online"], variants[f"{order}/refit"]), 4
            ),
            "fer_drop_points": maths.fer_drop(variants[f"{order}/online"]),
            "held_back_share": round(maths.held_back_share(variants[f"{order}/online"]), 4),
        }
        for order in ORDERS
        if f"{order}/online" in variants
    }
    needed = maths.labels_to_reach(target, variants["queue/online"]) if target is not None else None
    shipped = variants.get("queue/retrain", variants["queue/online"])
    if "queue/burst" in variants:
        per_order["queue (burst)"] = {
            "gain_vs_start": maths.gain(variants["queue/burst"]),
            "burst_minus_paced_after_all": round(
                maths.paired_gap(variants["queue/burst"], variants["queue/online"]), 4
            ),
            "fer_drop_points": maths.fer_drop(variants["queue/burst"]),
            "held_back_share": round(maths.held_back_share(variants["queue/burst"]), 4),
        }
    return {
        "criteria": maths.criteria(
            shipped, variants["queue/online"], variants["queue/refit"], reach_at=reach_at, labels_needed=needed
        ),
        "shipped_gain_at_reach": maths.gain(shipped, reach_at) if reach_at < total else None,
        "random_accuracy_at": {"labels": reach_at, "accuracy": round(target, 4)} if target is not None else None,
        "queue_labels_to_reach_it": needed,
        "by_order": per_order,
    }


if __name__ == "__main__":
    main()
