"""Which order of asking teaches the model most per label? An offline replay of the learning curve's split.

``bench/learning_curve.py`` labels through the app, minutes per order and seed; this replays the same split and
start models (kept in its ``--work``) outside the app, to compare candidate orders for the queue cheaply. Each
strategy picks the next photos of the pool from the model's view, the pool is labeled in steps of ``--step``
(the app's consolidation interval), and after each step the head is refitted on every label so far plus the start
model's replay pool, as the app's consolidation does; the next step's picks read that head. Held-out accuracy
after every step, pooled over seeds, and each strategy's paired difference from random order after 100 and after
all labels.

Strategies: ``random``; ``entropy`` (the queue as it ranks one photo at a time: the most uncertain first);
``entropy_coverage`` (uncertainty less half the cosine similarity to the closest photo labeled or picked
already); ``entropy_density`` (uncertainty times the photo's mean similarity to the unlabeled pool: typical photos
before outliers).

    .venv/bin/python bench/queue_order.py [--seeds 3] [--work var/bench/lc] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STRATEGIES = ("random", "entropy", "entropy_coverage", "entropy_density")
COVERAGE_WEIGHT = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--step", type=int, default=25, help="labels between refits (the app's consolidations)")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "learning_curve")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in STRATEGIES}
    for seed in range(args.seeds):
        start, pool_x, pool_y = seed_start(seed, args.work.resolve())
        for name in STRATEGIES:
            results[name].append(replay(name, start, pool_x, pool_y, seed=seed, step=args.step))
            print(f"seed {seed} {name}: {results[name][-1]['accuracy']}", file=sys.stderr)
    report = {"bench": "queue_order", "seeds": args.seeds, "step": args.step, "strategies": summary(results)}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


def seed_start(seed: int, work: Path) -> tuple[Any, np.ndarray, np.ndarray]:
    """The learning curve's start model of ``seed`` (trained if absent) and its pool's embeddings and labels."""
    from bench.learning_curve import planned
    from bench.learning_curve_maths import partition
    from bench.learning_curve_start import embedded, shared_fer_stage, start_config, start_model

    options = {"quick": False, "preset": "full", "fer_checkpoint": None, "labels": None, "layout": "1-3-1"}
    plan = planned(SimpleNamespace(**options, seeds=1, split_seed=0))
    split = partition(plan.folds, plan.layout, rotation=seed)
    config = start_config(plan.base, plan.overrides, plan.folds, split)
    shared = shared_fer_stage(config, work)
    if shared is not None and shared.exists():
        config = replace(config, init_checkpoint=shared)
    start = start_model(config, plan.folds, split, work=work)
    assert config.image_dir is not None
    paths = [Path(config.image_dir) / plan.folds.names[i] for i in split.pool]
    pool_x = embedded(start.model, paths, start.folder / "pool.npy")
    return start, pool_x, plan.folds.labels[split.pool]


def replay(name: str, start: Any, pool_x: np.ndarray, pool_y: np.ndarray, *, seed: int, step: int) -> dict[str, Any]:
    """Label the pool in steps, in ``name``'s order, refitting after each step; accuracy at the marks."""
    from mlcore.consolidation import refit_head

    rng = np.random.default_rng(seed)
    head, labeled = start.model.head, []
    total = len(pool_y)
    found: dict[int, np.ndarray] = {0: correct(head, start)}
    while len(labeled) < total:
        size = min(step, total - len(labeled))
        labeled += pick(name, head, pool_x, labeled, size=size, rng=rng)
        head = refit_head(pool_x[labeled], pool_y[labeled], reference=start.reference, seed=seed, source_share=0.0)
        found[len(labeled)] = correct(head, start)
    return {"accuracy": {k: round(float(v.mean()), 4) for k, v in found.items()}, "correct": found}


def pick(
    name: str, head: Any, pool_x: np.ndarray, labeled: list[int], *, size: int, rng: np.random.Generator
) -> list[int]:
    """The next ``size`` photos in ``name``'s order, one at a time (coverage counts the ones picked already)."""
    from mlcore.online import head_probabilities
    from mlcore.uncertainty import normalised_entropy

    unit = pool_x / np.maximum(np.linalg.norm(pool_x, axis=1, keepdims=True), 1e-12)
    left = np.ones(len(pool_x), dtype=bool)
    left[labeled] = False
    if name == "random":
        return [int(i) for i in rng.permutation(np.flatnonzero(left))[:size]]
    score = normalised_entropy(head_probabilities(head, pool_x))
    if name == "entropy_density":
        score = score * np.clip((unit @ unit[left].T).mean(axis=1), 0.0, None)
    chosen: list[int] = []
    closest = (unit @ unit[labeled].T).max(axis=1) if labeled else np.full(len(pool_x), -1.0)
    for _ in range(size):
        ranked = score - (COVERAGE_WEIGHT * np.clip(closest, 0.0, 1.0) if name == "entropy_coverage" else 0.0)
        ranked[~left] = -np.inf
        best = int(np.argmax(ranked))
        chosen.append(best)
        left[best] = False
        closest = np.maximum(closest, unit @ unit[best])
    return chosen


def correct(head: Any, start: Any) -> np.ndarray:
    from mlcore.online import head_probabilities

    return head_probabilities(head, start.held_x).argmax(axis=1) == start.held_y


def summary(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Accuracy pooled over seeds at each step every seed reached and after all labels ("all"), and the paired
    difference from random after 100 and after all labels."""
    from mlcore.comparison import paired_difference

    def pooled(runs: list[dict[str, Any]], mark: int | str) -> np.ndarray:
        return np.concatenate([r["correct"][max(r["correct"]) if mark == "all" else mark] for r in runs])

    out = {}
    for name, runs in results.items():
        marks: list[int | str] = [*sorted(set.intersection(*(set(r["correct"]) for r in runs))), "all"]
        row: dict[str, Any] = {"accuracy": {str(m): round(float(pooled(runs, m).mean()), 4) for m in marks}}
        for m in (100, "all"):
            if m in marks:
                d = paired_difference(pooled(results["random"], m), pooled(runs, m))
                row[f"vs_random_at_{m}"] = [round(d.value, 4), round(d.low, 4), round(d.high, 4)]
        out[name] = row
    return out


if __name__ == "__main__":
    main()
