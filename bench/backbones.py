"""Frozen backbones on the infant photos, cross-validated: face-pretrained faceres against ImageNet lite0, as JSON.

    flock /tmp/infantino-heavy.lock .venv/bin/python bench/backbones.py [--data DIR] [--k 5] [--fold-seed 0]

Each backbone embeds the same face crops (the default detector's, cached in ``var/cache/faces`` as training caches
them), frozen. On the grouped, stratified folds ``bench/accuracy.py --cv`` deals (``bench.crossval.photo_folds``), two
heads learn the other folds' features and score the held-out fold: a standardised logistic regression (C = 0.01,
class-balanced) and the project's MLP head recipe (``mlcore.online.fit_head``,
on standardised features). Pooled over the folds every photo is scored once. Per backbone and head: accuracy with
its 95 % interval, macro-F1, per-class recall, ECE, 3-class valence accuracy; ``paired`` holds each one minus lite0
at 128 px (today's resolution) under the same head, accuracy and macro-F1 with 95 % paired-bootstrap intervals.
``timing``: per face on one torch thread, multiply-accumulates and milliseconds (CPU and wall time) in batches of 32
(bulk) and one face at a time (served).
``--keep DIR`` keeps the features and their timings there, and a later run on the same photos reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import SHARED_DATA, base_config, cpu, summary  # noqa: E402
from bench.crossval import Folds, paired_macro_f1_difference, photo_folds, scores  # noqa: E402
from mlcore.comparison import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, accuracy_interval, correct, paired_difference  # noqa: E402
from mlcore.datasets import data_folders  # noqa: E402
from mlcore.labels import NUM_CLASSES  # noqa: E402

BASELINE = "lite0_128"
SERVED_SAMPLE = 20  # faces embedded one at a time for the served-latency figure
# One penalty, fixed before any run and the same for every backbone: with more dimensions than photos the classes
# separate, a weak penalty leaves lbfgs climbing for thousands of iterations, and a search inside each fold costs
# ten fits where one is affordable on two shared cores.
LOGREG_C = 0.01


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding infant/ (and fer2013/)")
    parser.add_argument("--k", type=int, default=5, help="folds")
    parser.add_argument("--fold-seed", type=int, default=0, help="deals the folds, as accuracy.py --cv")
    parser.add_argument("--faceres-sizes", type=int, nargs="+", default=[224, 160, 128], help="faceres input sizes")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the features (and their timings) here; reuse them"
    )
    return parser.parse_args()


def crops(base: Any, size: int, names: list[str]) -> tuple[torch.Tensor, int]:
    """The infant face crops at ``size`` px, RGB in [0, 1], in ``names`` order; and how many held a face."""
    from mlcore.progress import no_progress
    from mlcore.training.config import NORM
    from mlcore.training.data import load_infant

    data = load_infant(replace(base, image_size=size), no_progress)
    if data.names != names:
        raise RuntimeError("the training loader and the folds list the photos in different orders")
    mean = torch.tensor(NORM.mean).reshape(1, 3, 1, 1)
    std = torch.tensor(NORM.std).reshape(1, 3, 1, 1)
    return data.tensors * std + mean, data.found


def embed(network: Callable[[torch.Tensor], torch.Tensor], faces: torch.Tensor) -> tuple[np.ndarray, dict[str, Any]]:
    """Features of every face (batches of 32) and what they cost per face: multiply-accumulates, and milliseconds in
    bulk and one face at a time (as served), in CPU time (what a loaded machine does not inflate) and wall time."""
    from torch.utils.flop_counter import FlopCounterMode

    features = []
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for start in range(0, len(faces), 32):
            features.append(network(faces[start : start + 32]))
        bulk = {
            "bulk_cpu_ms_per_face": round(1000 * (time.process_time() - cpu) / len(faces), 2),
            "bulk_wall_ms_per_face": round(1000 * (time.perf_counter() - wall) / len(faces), 2),
        }
        single_cpu, single_wall = [], []
        for face in faces[:SERVED_SAMPLE]:
            wall, cpu = time.perf_counter(), time.process_time()
            network(face[None])
            single_cpu.append(1000 * (time.process_time() - cpu))
            single_wall.append(1000 * (time.perf_counter() - wall))
        with FlopCounterMode(display=False) as counter:
            network(faces[:1])
    cost = {"gmacs_per_face": round(counter.get_total_flops() / 2e9, 3), **bulk}
    cost |= {"single_cpu": summary(single_cpu), "single_wall": summary(single_wall)}
    return torch.cat(features).numpy().astype(np.float64), cost


def lite0(image_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ImageNet lite0 backbone as the extractor builds it, frozen, taking RGB in [0, 1]."""
    from mlcore.extractor import ExtractorConfig, build_extractor

    config = ExtractorConfig(image_size=image_size)
    backbone = build_extractor(config, imagenet=True).backbone.eval()
    mean = torch.tensor(config.mean).reshape(1, 3, 1, 1)
    std = torch.tensor(config.std).reshape(1, 3, 1, 1)
    return lambda rgb: backbone((rgb - mean) / std)


def head_probabilities(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """A head fitted on standardised training features, and its probabilities (label order) on the test ones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from mlcore import online

    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    if kind == "mlp":
        head = online.fit_head(online.new_head(seed=0), x_train, y_train, seed=0)
        return online.head_probabilities(head, x_test)
    regression = LogisticRegression(C=LOGREG_C, class_weight="balanced", max_iter=1000).fit(x_train, y_train)
    probabilities = np.zeros((len(x_test), NUM_CLASSES))
    probabilities[:, regression.classes_] = regression.predict_proba(x_test)
    return probabilities


def cross_validated(folds: Folds, features: np.ndarray, kind: str) -> np.ndarray:
    """Every photo's probabilities from the head that did not learn its fold."""
    pooled = np.zeros((len(folds.names), NUM_CLASSES))
    for test in folds.test:
        train = np.setdiff1d(np.arange(len(folds.names)), test)
        pooled[test] = head_probabilities(kind, features[train], folds.labels[train], features[test])
    return pooled


def report(folds: Folds, probabilities: np.ndarray, seconds: float) -> dict[str, Any]:
    found = scores(probabilities, folds.labels)
    interval = accuracy_interval(correct(probabilities, folds.labels))
    fold_accuracies = [float(correct(probabilities[t], folds.labels[t]).mean()) for t in folds.test]
    return {**found, "accuracy_ci95": [interval.low, interval.high], "fold_accuracies": fold_accuracies} | {
        "head_seconds": round(seconds, 1)
    }


def paired(folds: Folds, baseline: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    labels = folds.labels
    accuracy = paired_difference(correct(baseline, labels), correct(candidate, labels))
    f1 = paired_macro_f1_difference(baseline.argmax(axis=1), candidate.argmax(axis=1), labels)
    return {
        "accuracy_difference": accuracy.value,
        "accuracy_difference_ci95": [accuracy.low, accuracy.high],
        "macro_f1_difference": f1.value,
        "macro_f1_difference_ci95": [f1.low, f1.high],
    }


def embed_all(
    base: Any, names: list[str], faceres_sizes: list[int]
) -> tuple[dict[str, np.ndarray], dict[str, Any], int]:
    """Every backbone's features of every face, what each cost, and how many photos held a face."""
    from mlcore.backbones.faceres import faceres_or_none

    faceres = faceres_or_none()
    features: dict[str, np.ndarray] = {}
    timing: dict[str, Any] = {}
    faces_found = 0
    for size in sorted({128, 224, *(faceres_sizes if faceres else [])}, reverse=True):
        faces, faces_found = crops(base, size, names)
        if faceres is not None and size in faceres_sizes:
            features[f"faceres_{size}"], timing[f"faceres_{size}"] = embed(faceres, faces)
        if size in (128, 224):
            features[f"lite0_{size}"], timing[f"lite0_{size}"] = embed(lite0(size), faces)
    return features, timing, faces_found


def keep(folder: Path, names: list[str], features: dict[str, np.ndarray], timing: dict[str, Any], found: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "features.npz", **features)
    (folder / "features.json").write_text(json.dumps({"names": names, "timing": timing, "faces_found": found}))


def load_kept(folder: Path | None, names: list[str]) -> tuple[dict[str, np.ndarray], dict[str, Any], int] | None:
    """Features kept by an earlier run on the same photos, or None."""
    if folder is None or not (folder / "features.json").exists():
        return None
    meta = json.loads((folder / "features.json").read_text())
    if meta["names"] != names:
        return None
    with np.load(folder / "features.npz") as stored:
        features = {name: stored[name] for name in stored.files}
    return features, meta["timing"], meta["faces_found"]


def main() -> None:
    args = arguments()
    torch.set_num_threads(1)
    started = time.monotonic()
    found = data_folders(args.data)
    if found.infant_dir is None:
        sys.exit(f"no infant images under {args.data}: the benchmark needs the shared data")
    base = base_config("full", found)
    folds = photo_folds(Path(found.infant_dir), k=args.k, seed=args.fold_seed)
    kept = load_kept(args.keep, folds.names)
    if kept is not None:
        features, timing, faces_found = kept
        faceres_present = any(name.startswith("faceres") for name in features)
    else:
        features, timing, faces_found = embed_all(base, folds.names, args.faceres_sizes)
        faceres_present = any(name.startswith("faceres") for name in features)
        if args.keep is not None:
            keep(args.keep, folds.names, features, timing, faces_found)
    if "faceres_224" in features:
        features["faceres_224+lite0_128"] = np.hstack([features["faceres_224"], features[BASELINE]])
    results: dict[str, dict[str, Any]] = {}
    pairs: dict[str, dict[str, Any]] = {}
    for kind in args.heads:
        probabilities = {}
        for name, x in features.items():
            tick = time.monotonic()
            probabilities[name] = cross_validated(folds, x, kind)
            results.setdefault(name, {"dim": x.shape[1]})[kind] = report(
                folds, probabilities[name], time.monotonic() - tick
            )
        pairs[kind] = {
            f"{name} - {BASELINE}": paired(folds, probabilities[BASELINE], p)
            for name, p in probabilities.items()
            if name != BASELINE
        }
    print(
        json.dumps(
            {
                "cpu": cpu()["model"],
                "torch_threads": torch.get_num_threads(),
                "k": args.k,
                "fold_seed": args.fold_seed,
                "n": len(folds.names),
                "fold_sizes": [len(t) for t in folds.test],
                "faces_found": faces_found,
                "face_detector": base.face_detector,
                "faceres": faceres_present,
                "features_reused": kept is not None,
                "backbones": results,
                "paired": pairs,
                "timing": timing,
                "bootstrap_draws": BOOTSTRAP_DRAWS,
                "bootstrap_seed": BOOTSTRAP_SEED,
                "bench_seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
