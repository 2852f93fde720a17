"""What a kept cross-validation folder (``accuracy.py --cv --work DIR``) remembers between runs.

Levers are compared one run at a time against the same baseline, so a kept folder holds, keyed by everything
they depend on: each FER2013 stage (``fer-stages/<key>.pt``, a few minutes each), and each recipe's fold results
(``results/<key>.npz``: its test photos' probabilities), which a later run with the same recipe, folds and data
reads back instead of training again. ``--fresh`` ignores the stored results (training is not bit-for-bit
repeatable on CPU; a fresh run of the same recipe measures that spread).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.crossval import FoldResult
    from mlcore.training import TrainConfig


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fer_stage(root: Path, key: tuple[Any, ...]) -> Path:
    """Where the FER2013 stage of these settings is kept (it may not exist yet)."""
    return root / "fer-stages" / f"{_digest(list(key))}.pt"


def keep_fer_stage(root: Path, key: tuple[Any, ...], trained: Path) -> Path:
    """Copy a fold's freshly trained post-FER checkpoint to the shared place, and return that place."""
    kept = fer_stage(root, key)
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".tmp")
    shutil.copyfile(trained, partial)
    partial.replace(kept)
    return kept


def results_path(
    root: Path, config: TrainConfig, *, k: int, seed: int, names: list[str], unlabeled_fold: bool = False
) -> Path:
    """Where one recipe's fold results are kept: keyed by its settings, the folds and the photos."""
    key = {"params": config.params(), "k": k, "fold_seed": seed, "photos": _digest(names)}
    if unlabeled_fold:
        key["unlabeled_fold"] = True
    return root / "results" / f"{_digest(key)}.npz"


def save_results(path: Path, found: list[FoldResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for fold, f in enumerate(found):
        arrays[f"indices_{fold}"] = f.indices
        arrays[f"probabilities_{fold}"] = f.probabilities
        numbers = [f.seconds, f.train_seconds, float(f.shared_fer), f.training_test_accuracy]
        arrays[f"numbers_{fold}"] = np.array(numbers)
    np.savez(path, folds=np.array(len(found)), **arrays)


def load_results(path: Path) -> list[FoldResult] | None:
    from bench.crossval import FoldResult

    if not path.exists():
        return None
    with np.load(path) as stored:
        found = []
        for fold in range(int(stored["folds"])):
            seconds, train_seconds, shared, test_accuracy = stored[f"numbers_{fold}"].tolist()
            found.append(
                FoldResult(
                    indices=stored[f"indices_{fold}"],
                    probabilities=stored[f"probabilities_{fold}"],
                    seconds=seconds,
                    train_seconds=train_seconds,
                    shared_fer=bool(shared),
                    training_test_accuracy=test_accuracy,
                    stored=True,
                )
            )
    return found
