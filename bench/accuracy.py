"""Held-out accuracy of a model version, as JSON: `python bench/accuracy.py [--version V] [--data DIR]`.

The infant photos scored are the version's held-out test split, recorded by training in the run's
``split.json`` (no training, calibration or threshold step saw them); the FER2013 rows are the
validation rows training set aside (redrawn from the run's seed). Images go through the served
path: face detector, extractor, head, temperature.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bench.common import SHARED_DATA  # noqa: E402
from mlcore.datasets import data_folders  # noqa: E402

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel
    from mlcore.registry import VersionInfo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", help="model version (default: the live one)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding infant/ and fer2013/")
    parser.add_argument("--tracking-uri", default=f"sqlite:///{ROOT / 'var' / 'mlflow.db'}")
    parser.add_argument("--artifacts", default=(ROOT / "var" / "mlartifacts").as_uri())
    parser.add_argument("--model-name", default="infantino-expressions")
    parser.add_argument("--no-fer", action="store_true", help="skip the FER2013 validation rows")
    args = parser.parse_args()
    found = data_folders(args.data)
    if found.infant_dir is None:
        sys.exit(f"no infant images under {args.data}: the benchmark needs the shared data")

    import torch

    from mlcore.registry import Registry

    torch.set_num_threads(2)
    registry = Registry(args.tracking_uri, artifact_root=args.artifacts, model_name=args.model_name)
    model = registry.load(args.version)
    info = registry.version_info(model.version)
    split = registry.version_json(model.version, "split.json")
    if split is None:
        sys.exit(f"version {model.version} records no held-out split (it was not made by `manage.py train`)")
    started = time.monotonic()
    report = heldout_report(model, info, found.infant_dir, split["test"])
    fer_csv = info.params.get("fer_csv")
    if not args.no_fer and fer_csv and fer_csv != "None":
        path = Path(fer_csv) if Path(fer_csv).exists() else found.fer_csv
        if path is not None:
            report.update(fer_report(model, info, path))
    report["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report))


def heldout_report(model: ExpressionModel, info: VersionInfo, infant_dir: Path, names: list[str]) -> dict[str, Any]:
    """The version's held-out infant photos (``names``, relative to ``infant_dir``) through the served path."""
    import numpy as np

    from mlcore.datasets import LabeledImages
    from mlcore.evaluation import evaluate_model
    from mlcore.imageio import open_image_file
    from mlcore.labels import LABEL_INDEX

    infant = LabeledImages(
        images=[open_image_file(str(infant_dir / name)) for name in names],
        labels=np.array([LABEL_INDEX[name.split("/")[0]] for name in names]),
        names=names,
        precropped=False,
    )
    heldout = evaluate_model(model, infant)
    return {
        "model_version": model.version,
        "n": heldout.n,
        "accuracy": heldout.accuracy,
        "macro_f1": heldout.macro_f1,
        "per_class": {k: None if np.isnan(v) else v for k, v in heldout.per_class.items()},
        "ece": heldout.ece,
        "confusion": heldout.confusion,
        "train_seconds": info.metrics.get("train_seconds"),
    }


def fer_report(model: ExpressionModel, info: VersionInfo, path: Path) -> dict[str, Any]:
    """The FER2013 validation rows the version's training set aside, redrawn from its seed."""
    from mlcore.datasets import LabeledImages, fer_images, read_fer_csv
    from mlcore.evaluation import evaluate_model
    from mlcore.training import fer_split

    limit = info.params.get("fer_limit", "None")
    faces, labels = read_fer_csv(path, limit=None if limit == "None" else int(limit))
    _, val = fer_split(labels, val_size=int(info.params["fer_val_size"]), seed=int(info.params["seed"]))
    fer = evaluate_model(model, LabeledImages(list(fer_images(faces[val])), labels[val], [], True))
    return {"fer_n": fer.n, "fer_accuracy": fer.accuracy, "fer_macro_f1": fer.macro_f1, "fer_ece": fer.ece}


if __name__ == "__main__":
    main()
