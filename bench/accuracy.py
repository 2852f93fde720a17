"""Held-out accuracy of the starter and the trained model, side by side, as JSON.

    .venv/bin/python bench/accuracy.py [--version V ...] [--data DIR] [--limit N] [--no-fer]
    .venv/bin/python bench/accuracy.py --cv [K] [--recipe JSON | --compare JSON_A JSON_B] [--preset tiny] [--data DIR]

Without ``--version`` it scores the newest starter (kind ``bootstrap``) and the newest trained version (kind
``retrain``) that record a held-out split (of a full training, the recipe version: the head served was fitted on
the held-out photos too, after they scored the recipe); ``--version`` (repeatable) names the versions instead.
A version is scored on its held-out infant photos, the ``test`` list of the ``split.json`` its run logged: no training,
calibration or threshold step saw them, and starter and full training split alike (same grouping, same seed), so
both hold out the same photos. Photos go through the served path: face detector, extractor, head, temperature.
``--limit N`` scores the first N of them only (a smoke check). Per version, under ``versions``:

- ``accuracy`` of the top label whatever the threshold, with ``accuracy_ci95``: a 95 % interval from resampling
  the photos (2000 draws, seed 0); ``macro_f1``, ``per_class`` recall (null for a label without a photo), ``ece``.
- ``answered_share`` and ``answered_accuracy``: the photos the version's abstain threshold (on normalised
  entropy) does not turn into "unsure", and how many of those it gets right: what users are told.
- ``confident_n`` and ``confident_accuracy``: answered photos whose top calibrated probability is at least 0.90,
  the answers users read as sure.
- ``train_seconds`` as the version recorded it; ``fer_*`` on the FER2013 validation rows its training set
  aside (redrawn from its seed) when its params record a FER2013 CSV, unless ``--no-fer``.

``paired`` holds, for each starter and trained version scored on the same photos, the accuracy difference
(trained − starter) with its 95 % paired-bootstrap interval; an interval that excludes 0 is a real difference.

``--cv K`` (5 without a number) trains instead: grouped, stratified K-fold cross-validation of a recipe (``--recipe``,
a JSON object of TrainConfig fields over the preset; default ``{}``) on the infant photos of ``--data``, in a
throw-away registry; see ``bench/crossval.py``. ``--work DIR`` keeps it, with each FER2013 stage and each recipe's fold
results, which later runs reuse (``bench/crossval_store.py``; ``--fresh`` trains again). ``--fold-seed`` deals the
folds. ``--compare A B`` cross-validates two recipes on the same folds. ``--unlabeled-fold`` withholds the labels of
each fold's next fold: its model gets those photos as unlabeled uploads (for ``pseudo_confidence``). Under ``recipes``,
per recipe: ``folds`` (accuracy, macro-F1, per-class recall, ECE, 3-class ``valence_accuracy``, ``seconds``) and
``overall``, pooled over all photos, each scored once by the fold model that did not train on it, with
``accuracy_ci95`` and ``valence_accuracy_ci95``. With ``--compare``, ``paired`` holds B − A in pooled accuracy and
macro-F1, each with its 95 % paired-bootstrap interval. ``--preset tiny`` uses ``TrainConfig.tiny`` (a smoke check).

``--card [JSON]`` scores nothing: it regenerates the model card (``--card-out``, default ``docs/MODEL_CARD.md``) from a
JSON of measured figures, each with its source (default ``bench/model_card.json``; ``bench/model_card.py``), and
fails naming the first figure the JSON lacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import numpy as np  # noqa: E402

from bench.common import SHARED_DATA, base_config  # noqa: E402
from bench.crossval import cross_validate, recipe  # noqa: E402
from bench.model_card import CARD, FIGURES, MissingFigure, write_card  # noqa: E402
from mlcore.comparison import (  # noqa: E402
    BOOTSTRAP_DRAWS,
    BOOTSTRAP_SEED,
    CONFIDENT_AT,
    accuracy_interval,
    answered,
    confident,
    correct,
    paired_difference,
    shown,
)
from mlcore.datasets import data_folders  # noqa: E402

if TYPE_CHECKING:
    from PIL import Image

    from mlcore.model import ExpressionModel
    from mlcore.registry import Registry, VersionInfo

STARTER, TRAINED = "bootstrap", "retrain"
BOOTSTRAP_FER_VAL_FRACTION = 0.2  # the share of its FER2013 rows mlcore.bootstrap sets apart for validation


@dataclass(frozen=True)
class Scored:
    """One version's report, and whether it got each held-out photo right, kept to pair it with another."""

    version: str
    kind: str
    names: list[str]
    correct: np.ndarray
    report: dict[str, Any]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="append", help="a version to score (repeatable; default: see above)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding infant/ and fer2013/")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N held-out photos")
    parser.add_argument("--tracking-uri", default=f"sqlite:///{ROOT / 'var' / 'mlflow.db'}")
    parser.add_argument("--artifacts", default=(ROOT / "var" / "mlartifacts").as_uri())
    parser.add_argument("--model-name", default="infantino-expressions")
    parser.add_argument("--no-fer", action="store_true", help="skip the FER2013 validation rows")
    parser.add_argument("--cv", type=int, nargs="?", const=5, metavar="K", help="K-fold cross-validation (see above)")
    parser.add_argument("--recipe", type=recipe, default={}, help="TrainConfig overrides as JSON (with --cv)")
    parser.add_argument("--compare", type=recipe, nargs=2, metavar=("A", "B"), help="two recipes (with --cv)")
    parser.add_argument("--preset", choices=("full", "tiny"), default="full", help="the recipes' base (with --cv)")
    parser.add_argument("--fold-seed", type=int, default=0, help="deals the folds (with --cv)")
    parser.add_argument("--work", type=Path, default=None, help="keep the folds' registry and runs here (with --cv)")
    parser.add_argument("--fresh", action="store_true", help="train again what --work holds results of (with --cv)")
    parser.add_argument(
        "--unlabeled-fold", action="store_true", help="each fold's next fold is its unlabeled uploads (with --cv)"
    )
    parser.add_argument("--card", type=Path, nargs="?", const=FIGURES, metavar="JSON", help="write the model card")
    parser.add_argument("--card-out", type=Path, default=CARD, help="where --card writes it")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.card is not None:
        try:
            print(write_card(args.card, args.card_out))
        except MissingFigure as missing:
            sys.exit(str(missing))
        return
    found = data_folders(args.data)
    if found.infant_dir is None:
        sys.exit(f"no infant images under {args.data}: the benchmark needs the shared data")
    if args.cv is not None:
        recipes = args.compare or [args.recipe]
        base = base_config(args.preset, found)
        where = {"work": args.work, "fresh": args.fresh, "unlabeled_fold": args.unlabeled_fold}
        report = cross_validate(base, recipes, k=args.cv, seed=args.fold_seed, **where)
        print(json.dumps(report))
        return
    if args.compare:
        sys.exit("--compare cross-validates: give --cv too")

    import torch

    from mlcore.registry import Registry

    torch.set_num_threads(2)
    registry = Registry(args.tracking_uri, artifact_root=args.artifacts, model_name=args.model_name)
    started = time.monotonic()
    chosen = asked_versions(registry, args.version) if args.version else newest_versions(registry)
    photos = Photos(found.infant_dir)
    scored = []
    for info, split in chosen:
        photos.add_root(Path(split.get("image_dir") or found.infant_dir))  # a retrain's own folder, if kept
        model = registry.load(info.version)
        result = score(model, info, photos, split["test"][: args.limit])
        fer_csv = info.params.get("fer_csv")
        if not args.no_fer and fer_csv and fer_csv != "None":
            path = Path(fer_csv) if Path(fer_csv).exists() else found.fer_csv
            if path is not None:
                result.report.update(fer_report(model, info, path))
        scored.append(result)
    report: dict[str, Any] = {
        "versions": {s.version: s.report for s in scored},
        "paired": paired_report(scored),
        "confident_at": CONFIDENT_AT,
        "bootstrap_draws": BOOTSTRAP_DRAWS,
        "bootstrap_seed": BOOTSTRAP_SEED,
    }
    if not args.version:
        report["missing_kinds"] = sorted({STARTER, TRAINED} - {s.kind for s in scored})
    report["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report))


def asked_versions(registry: Registry, versions: list[str]) -> list[tuple[VersionInfo, dict[str, Any]]]:
    """The versions named on the command line with their splits; one without a split ends the run."""
    chosen = []
    for version in versions:
        split = registry.version_json(version, "split.json")
        if split is None:
            sys.exit(f"version {version} records no held-out split (made before starters and trainings logged one)")
        info = registry.version_info(version)
        if "test" in info.tags.get("fitted_on", ""):
            sys.exit(
                f"version {version} learned its held-out photos too; "
                f"score its recipe version {info.tags['recipe_version']} instead"
            )
        chosen.append((info, split))
    return chosen


def newest_versions(registry: Registry) -> list[tuple[VersionInfo, dict[str, Any]]]:
    """The newest starter and the newest trained version that record a held-out split, starter first."""
    infos = registry.versions()  # newest first
    chosen = []
    for kind in (STARTER, TRAINED):
        # A full training also registers the head served, fitted on the held-out photos too: its recipe version
        # (same extractor, head fitted without them) is the one these photos can score.
        held_out = (i for i in infos if i.tags.get("kind") == kind and "test" not in i.tags.get("fitted_on", ""))
        for info in held_out:
            split = registry.version_json(info.version, "split.json")
            if split is not None:
                chosen.append((info, split))
                break
    if not chosen:
        sys.exit("no starter or trained version records a held-out split: run bootstrap_model or `manage.py train`")
    return chosen


class Photos:
    """Held-out photos by name, opened once for every version that scores them."""

    def __init__(self, infant_dir: Path) -> None:
        self.roots = [infant_dir]  # the dataset first; then the folders trainings built (photos users labeled)
        self._opened: dict[str, Image.Image] = {}

    def add_root(self, root: Path) -> None:
        if root not in self.roots:
            self.roots.append(root)

    def __getitem__(self, name: str) -> Image.Image:
        from mlcore.imageio import open_image_file

        if name not in self._opened:
            found = next((root / name for root in self.roots if (root / name).exists()), self.roots[0] / name)
            self._opened[name] = open_image_file(str(found))
        return self._opened[name]


def score(model: ExpressionModel, info: VersionInfo, photos: Photos, names: list[str]) -> Scored:
    """The version's held-out photos (``names``, as ``label/file``) through the served path."""
    from mlcore.datasets import LabeledImages
    from mlcore.evaluation import model_probabilities
    from mlcore.labels import LABEL_INDEX
    from mlcore.metrics import evaluate_probabilities

    if not names:
        sys.exit(f"version {info.version} holds out no infant photos to score")
    labels = np.array([LABEL_INDEX[name.split("/")[0]] for name in names])
    data = LabeledImages(images=[photos[name] for name in names], labels=labels, names=names, precropped=False)
    probabilities = model_probabilities(model, data)
    heldout = evaluate_probabilities(probabilities, labels)
    is_correct = correct(probabilities, labels)
    interval = accuracy_interval(is_correct)
    told = shown(is_correct, answered(probabilities, model.abstain_threshold))
    sure = shown(is_correct, confident(probabilities, model.abstain_threshold))
    kind = info.tags.get("kind", "")
    report = {
        "kind": kind,
        "n": heldout.n,
        "accuracy": heldout.accuracy,
        "accuracy_ci95": [interval.low, interval.high],
        "macro_f1": heldout.macro_f1,
        "per_class": {k: None if np.isnan(v) else v for k, v in heldout.per_class.items()},
        "ece": heldout.ece,
        "answered_n": told.n,
        "answered_share": told.share,
        "answered_accuracy": told.accuracy,
        "confident_n": sure.n,
        "confident_accuracy": sure.accuracy,
        "temperature": model.temperature,
        "abstain_threshold": model.abstain_threshold,
        "train_seconds": info.metrics.get("train_seconds"),
        "confusion": heldout.confusion,
    }
    return Scored(version=info.version, kind=kind, names=names, correct=is_correct, report=report)


def paired_report(scored: list[Scored]) -> list[dict[str, Any]]:
    """Trained minus starter accuracy for every such pair scored, with a paired interval when the photos agree."""
    pairs = []
    for starter in (s for s in scored if s.kind == STARTER):
        for trained in (s for s in scored if s.kind == TRAINED):
            entry: dict[str, Any] = {"trained": trained.version, "starter": starter.version}
            if sorted(starter.names) != sorted(trained.names):
                entry["same_photos"] = False  # splits from different data: two accuracies, no paired difference
            else:
                order = {name: i for i, name in enumerate(starter.names)}
                baseline = starter.correct[[order[name] for name in trained.names]]
                difference = paired_difference(baseline, trained.correct)
                entry.update(
                    same_photos=True,
                    n=len(trained.names),
                    accuracy_difference=difference.value,
                    difference_ci95=[difference.low, difference.high],
                )
            pairs.append(entry)
    return pairs


def fer_report(model: ExpressionModel, info: VersionInfo, path: Path) -> dict[str, Any]:
    """The FER2013 validation rows the version's training set aside, redrawn from its seed."""
    from mlcore.datasets import LabeledImages, fer_images, read_fer_csv
    from mlcore.evaluation import evaluate_model
    from mlcore.split import stratified_split
    from mlcore.training import fer_split

    limit = info.params.get("fer_limit", "None")
    seed = int(info.params["seed"])
    faces, labels = read_fer_csv(path, limit=None if limit == "None" else int(limit))
    if info.tags.get("kind") == STARTER:
        _, val = stratified_split(labels, val_fraction=BOOTSTRAP_FER_VAL_FRACTION, seed=seed)
    else:
        _, val = fer_split(labels, val_size=int(info.params["fer_val_size"]), seed=seed)
    fer = evaluate_model(model, LabeledImages(list(fer_images(faces[val])), labels[val], [], True))
    return {"fer_n": fer.n, "fer_accuracy": fer.accuracy, "fer_macro_f1": fer.macro_f1, "fer_ece": fer.ece}


if __name__ == "__main__":
    main()
