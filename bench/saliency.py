"""Saliency faithfulness and cost, Grad-CAM against occlusion: `python bench/saliency.py [--photos 30]`.

Runs on the live model of the store the settings name (``INFANTINO_VAR_DIR`` / ``MLFLOW_TRACKING_URI``), on
infant photos that version never trained on (its ``split.json`` test list). For each photo and method: the
deletion AUC (probability of the predicted class as the most salient pixels are blurred out; lower = more
faithful), the insertion AUC (higher = more faithful) and the seconds to compute the map; a random map is the
floor. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_DATA, shared_data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--data", type=Path, default=shared_data().infant_dir)
    args = parser.parse_args()
    if args.data is None or not args.data.is_dir():
        sys.exit(f"no infant photos under {SHARED_DATA}: pass --data DIR")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infantino_site.settings")
    import django

    django.setup()
    import numpy as np
    import torch
    from django.conf import settings

    from mlcore.registry import registry_for

    torch.set_num_threads(settings.INFANTINO_TORCH_THREADS)
    registry = registry_for(
        settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS, settings.INFANTINO_MODEL_NAME
    )
    model = registry.load()
    split = registry.version_json(model.version, "split.json")
    names = _photos(split, args.data, args.photos)
    results = _measure(model, [args.data / name for name in names])
    report = {
        "model_version": model.version,
        "photos": len(names),
        "held_out": bool(split and split.get("test")),  # False: a bootstrap version logs no split; it saw them
        "image_size": model.config.image_size,
        "labels": sorted({n.split("/")[0] for n in names}),
        "torch_threads": settings.INFANTINO_TORCH_THREADS,
        **{
            method: {
                "deletion_auc_mean": round(float(np.mean(r["deletion"])), 4),
                "insertion_auc_mean": round(float(np.mean(r["insertion"])), 4),
                "seconds_per_image_mean": round(float(np.mean(r["seconds"])), 4),
            }
            for method, r in results.items()
        },
    }
    print(json.dumps(report, indent=2))


def _measure(model: Any, paths: list[Path]) -> dict[str, dict[str, list[float]]]:
    """Per method (and a random map): each photo's deletion and insertion AUC and seconds to make the map."""
    import numpy as np

    from mlcore import saliency
    from mlcore.imageio import open_image_file

    rng = np.random.default_rng(0)
    results: dict[str, dict[str, list[float]]] = {
        m: {"deletion": [], "insertion": [], "seconds": []} for m in (*saliency.METHODS, "random")
    }
    for path in paths:
        crop = model.crop(open_image_file(str(path))).image.convert("RGB").resize((model.config.image_size,) * 2)
        target = int(np.argmax(saliency.class_probabilities(model, [crop])[0]))
        for method in results:
            started = time.perf_counter()
            if method == "random":
                heat = rng.random((crop.height, crop.width)).astype(np.float32)
            elif method == "gradcam":
                heat = saliency.grad_cam(model, crop, target)
            else:
                heat = saliency.occlusion(model, crop, target)
            results[method]["seconds"].append(time.perf_counter() - started)
            for kind in ("deletion", "insertion"):
                curve = saliency.faithfulness_curve(model, crop, heat, target, insertion=kind == "insertion")
                results[method][kind].append(saliency.curve_auc(curve))
    return results


def _photos(split: dict[str, list[str]] | None, data: Path, count: int) -> list[str]:
    """Held-out photos (the version's test split when logged, else every photo), spread over the labels."""
    names = (
        sorted(split["test"])
        if split and split.get("test")
        else sorted(str(p.relative_to(data)) for p in data.glob("*/*") if p.is_file())
    )
    by_label: dict[str, list[str]] = {}
    for name in names:
        by_label.setdefault(name.split("/")[0], []).append(name)
    picked: list[str] = []
    while len(picked) < count and any(by_label.values()):
        for label in sorted(by_label):
            if by_label[label] and len(picked) < count:
                picked.append(by_label[label].pop(0))
    return picked


if __name__ == "__main__":
    main()
