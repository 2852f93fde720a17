"""Why labels made a fully trained model worse, and which online update does not: an offline replay.

Each rotation of ``--layout`` (3-1-1 by default: three folds train the start model, one fold is labeled, one is
held out) takes its start model from ``--work`` (``bench/learning_curve.py`` trains and keeps them there), embeds
its pool and held-out photos once, then feeds the pool's true labels in a seeded random order to each update rule
and scores the resulting head on the held-out photos after 10, 25, 50 and all labels:

- ``anchor``: the start model's head, no label learned;
- ``mlp_refit``: a fresh MLP head on the replay pool plus the labels (the consolidation before this change);
- ``mlp_refit_pool_only``: the same without any label (what the replay pool alone gives);
- ``correction/<strength>``: the anchor's output layer corrected on the labels (``mlcore.correction``);
- ``online_line/<strength>``: the shipped line, label by label under the guard (held-back labels tried again).

``partial_fit``, the update before the correction, is replayed by this script as it was at commit 0bc7015.

Prints one JSON document: per rule and checkpoint, held-out accuracy and macro-F1 pooled over the rotations, the
paired difference from the anchor with a 95 % bootstrap interval, FER2013 and infant validation accuracy.

    .venv/bin/python bench/online_update.py --work var/bench/lc311 [--rotations 5] [--strengths 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bench import learning_curve_maths as maths  # noqa: E402
from bench.common import base_config, shared_data  # noqa: E402

MARKS = (10, 25, 50)
BOOTSTRAP = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="where bench/learning_curve.py keeps start models")
    parser.add_argument("--layout", choices=sorted(maths.LAYOUTS), default="3-1-1")
    parser.add_argument("--rotations", type=int, default=5)
    parser.add_argument("--recipe", type=Path, help="the JSON of TrainConfig fields the start models were pinned to")
    parser.add_argument("--strengths", type=float, nargs="+", default=[])
    parser.add_argument("--keep-strengths", type=float, nargs="+", default=[])
    parser.add_argument("--ridges", type=float, nargs="+", default=[1.0])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    started = time.monotonic()
    recipe = json.loads(args.recipe.read_text()) if args.recipe else {}
    rotations = [rotation_data(args.work.resolve(), args.layout, r, recipe) for r in range(args.rotations)]
    rotations = [r for r in rotations if r is not None]
    if not rotations:
        sys.exit(f"no start model of layout {args.layout} in {args.work}: run bench/learning_curve.py first")
    rules = rule_table(args)
    scores: dict[str, dict[int, list[dict[str, Any]]]] = {name: {} for name in rules}
    for data in rotations:
        order = np.random.default_rng(data["rotation"]).permutation(len(data["pool_y"]))
        marks = [m for m in MARKS if m < len(order)] + [len(order)]
        for name, rule in rules.items():
            for mark, head, *held in rule(data, order, marks):
                found = scored(head, data) | {"held_back": held[0] if held else 0}
                scores[name].setdefault(mark if mark != len(order) else -1, []).append(found)
    report = {
        "bench": "online_update",
        "layout": args.layout,
        "rotations": [d["rotation"] for d in rotations],
        "pool_photos": [len(d["pool_y"]) for d in rotations],
        "held_photos": [len(d["held_y"]) for d in rotations],
        "rules": summarised(scores),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=2))


def rotation_data(work: Path, layout: str, rotation: int, recipe: dict[str, Any]) -> dict[str, Any] | None:
    """The start model of ``rotation`` (None if not trained yet), its pool and held-out photos embedded."""
    from bench.crossval import photo_folds
    from bench.learning_curve_start import (
        cache_key,
        embedded,
        names_digest,
        registry_in,
        shared_fer_stage,
        start_config,
        trained_before,
    )

    data = shared_data()
    assert data.infant_dir is not None
    folds = photo_folds(data.infant_dir, k=maths.FOLDS, seed=0)
    split = maths.partition(folds, layout, rotation=rotation)
    config = start_config(base_config("full", data), recipe, folds, split)
    shared = shared_fer_stage(config, work)
    if shared is not None and shared.exists() and not trained_before(config, work):
        config = replace(config, init_checkpoint=shared)  # as bench/learning_curve.py trained it
    folder = work / f"start-{cache_key(config)}"
    marker = folder / "start.json"
    if not marker.exists():
        return None
    registry = registry_in(folder)
    version = json.loads(marker.read_text())["version"]
    model = registry.load(version)
    reference = registry.load_reference(model.extractor_id)
    paths = {side: [data.infant_dir / folds.names[i] for i in getattr(split, side)] for side in ("pool", "held")}
    return {
        "rotation": rotation,
        "model": model,
        "reference": reference,
        "kind": registry.version_info(version).tags.get("kind", ""),
        "temperature": model.temperature,
        "pool_x": embedded(model, paths["pool"], folder / f"pool-{names_digest([str(p) for p in paths['pool']])}.npy"),
        "pool_y": folds.labels[split.pool],
        "held_x": embedded(model, paths["held"], folder / f"held-{names_digest([str(p) for p in paths['held']])}.npy"),
        "held_y": folds.labels[split.held],
    }


def rule_table(args: argparse.Namespace) -> dict[str, Any]:
    rules: dict[str, Any] = {"anchor": anchor_rule, "mlp_refit": mlp_refit_rule, "mlp_refit_pool_only": pool_only}
    for strength in args.strengths:
        rules[f"correction/{strength:g}"] = correction_rule(strength)
        rules[f"online_line/{strength:g}"] = online_line_rule(strength)
    for strength in args.keep_strengths:
        for ridge in args.ridges:
            rules[f"keep/{strength:g}/{ridge:g}"] = correction_rule(strength, keep=True, ridge=ridge)
            rules[f"online_keep/{strength:g}/{ridge:g}"] = online_line_rule(strength, ridge=ridge)
    return rules


def anchor_rule(data: dict[str, Any], order: np.ndarray, marks: list[int]) -> Any:
    for mark in marks:
        yield mark, data["model"].head


def pool_only(data: dict[str, Any], order: np.ndarray, marks: list[int]) -> Any:
    from mlcore.consolidation import refit_head, source_share_for

    empty_x = np.empty((0, data["pool_x"].shape[1]), dtype=np.float32)
    head = refit_head(
        empty_x, np.empty(0, dtype=np.int64), reference=data["reference"], source_share=source_share_for(data["kind"])
    )
    for mark in marks:
        yield mark, head


def mlp_refit_rule(data: dict[str, Any], order: np.ndarray, marks: list[int]) -> Any:
    from mlcore.consolidation import refit_head, source_share_for

    for mark in marks:
        rows = order[:mark]
        share = source_share_for(data["kind"])
        x, y = data["pool_x"][rows], data["pool_y"][rows]
        yield mark, refit_head(x, y, reference=data["reference"], source_share=share)


def online_line_rule(strength: float, *, ridge: float | None = None) -> Any:
    """The shipped online line: each label an update (``mlcore.learner.update_head``) judged by the guard; a label
    held back waits and is tried again with every later one."""

    def rule(data: dict[str, Any], order: np.ndarray, marks: list[int]) -> Any:
        from mlcore import learner

        anchor = data["model"].head
        live, learned, waiting = anchor, [], []
        config = (
            learner.LearnerConfig(strength=strength) if ridge is None else learner.LearnerConfig(strength, ridge=ridge)
        )
        x, y = data["pool_x"], data["pool_y"]
        for i, row in enumerate(order, 1):
            result = learner.update_head(
                anchor,
                new=(x[row : row + 1], y[row : row + 1]),
                learned=(x[learned], y[learned]) if learned else None,
                waiting=(x[waiting], y[waiting]) if waiting else None,
                parent=None if live is anchor else live,
                reference=data["reference"],
                config=config,
            )
            if result.accepted:
                live = result.head
                learned.append(int(row))
                if result.took_waiting:
                    learned, waiting = learned + waiting, []
            else:
                waiting.append(int(row))
            if i in marks:
                yield i, live, len(waiting)

    return rule


def correction_rule(strength: float, *, keep: bool = False, ridge: float = 1.0) -> Any:
    def rule(data: dict[str, Any], order: np.ndarray, marks: list[int]) -> Any:
        from mlcore.correction import corrected

        pool = data["reference"].replay_x if keep else None
        for mark in marks:
            rows = order[:mark]
            x, y = data["pool_x"][rows], data["pool_y"][rows]
            yield mark, corrected(data["model"].head, x, y, strength=strength, keep=pool, ridge=ridge).head

    return rule


def scored(head: Any, data: dict[str, Any]) -> dict[str, Any]:
    from mlcore.learner import evaluate
    from mlcore.online import head_probabilities

    probabilities = head_probabilities(head, data["held_x"], temperature=data.get("temperature", 1.0))
    predicted = probabilities.argmax(axis=1)
    metrics = evaluate(head, data["reference"])
    return {
        "probabilities": probabilities,
        "correct": predicted == data["held_y"],
        "predicted": predicted,
        "truth": data["held_y"],
        "fer": metrics.get("fer_accuracy"),
        "infant_val": metrics.get("infant_accuracy"),
    }


def summarised(scores: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Pooled over rotations; the paired difference from the anchor at the same checkpoint, with its interval."""
    from mlcore.metrics import expected_calibration_error, macro_f1

    out: dict[str, Any] = {}
    anchor = scores["anchor"]
    rng = np.random.default_rng(0)
    for name, by_mark in scores.items():
        out[name] = {}
        for mark, runs in sorted(by_mark.items(), key=lambda item: (item[0] < 0, item[0])):
            correct = np.concatenate([r["correct"] for r in runs]).astype(float)
            base = np.concatenate([r["correct"] for r in anchor[mark]]).astype(float)
            diff = correct - base
            draws = rng.integers(0, len(diff), size=(BOOTSTRAP, len(diff)))
            low, high = np.percentile(diff[draws].mean(axis=1), [2.5, 97.5])
            truth = np.concatenate([r["truth"] for r in runs])
            probabilities = np.concatenate([r["probabilities"] for r in runs])
            out[name]["all" if mark < 0 else str(mark)] = {
                "accuracy": round(float(correct.mean()), 4),
                "macro_f1": round(macro_f1(truth, np.concatenate([r["predicted"] for r in runs])), 4),
                "ece": round(expected_calibration_error(probabilities, truth), 4),
                "minus_anchor": [round(float(diff.mean()), 4), round(float(low), 4), round(float(high), 4)],
                "fer_accuracy": round(float(np.mean([r["fer"] for r in runs if r["fer"] is not None])), 4),
                "infant_val_accuracy": round(float(np.mean([r["infant_val"] for r in runs])), 4),
                "held_back": int(sum(r["held_back"] for r in runs)),
            }
    return out


if __name__ == "__main__":
    main()
