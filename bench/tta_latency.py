"""What test-time views cost per photo: the served predict plainly, with the mirrored pair (``tta_flip``), and with
the zoomed centre too (``tta_flip`` + ``tta_zoom``: four views).

One extractor of the default recipe's size (weights do not change the time), under a head fitted on random
embeddings; each infant photo goes through ``ExpressionModel.predict`` (face detector, crop, extractor, head)
once each way, interleaved so that machine noise hits all alike, on one torch thread as a web worker's request.
Prints one JSON object: p50/p95/mean of each and the ratios of the medians to the plain one.

    .venv/bin/python bench/tta_latency.py [--n 60] [--detector mtcnn] [--image-size 128]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import shared_data, summary  # noqa: E402
from mlcore.datasets import folder_items  # noqa: E402
from mlcore.extractor import ExtractorConfig, build_extractor  # noqa: E402
from mlcore.imageio import open_image_file  # noqa: E402
from mlcore.labels import NUM_CLASSES  # noqa: E402
from mlcore.model import ExpressionModel  # noqa: E402
from mlcore.online import CLASSES, new_head  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60, help="photos timed (each both ways)")
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    found = shared_data()
    if found.infant_dir is None:
        sys.exit("no infant photos: the benchmark needs the shared data")
    config = ExtractorConfig(image_size=args.image_size, face_detector=args.detector)
    extractor = build_extractor(config, imagenet=False).eval()
    head = new_head()
    rng = np.random.default_rng(0)
    head.partial_fit(rng.normal(size=(70, config.embedding_dim)), np.arange(70) % NUM_CLASSES, classes=CLASSES)
    models = {}
    for name, views in (
        ("plain", {}),
        ("tta_flip", {"tta_flip": True}),
        ("tta_zoom", {"tta_flip": True, "tta_zoom": True}),
    ):
        viewed = build_extractor(replace(config, **views), imagenet=False).eval()
        viewed.load_state_dict(extractor.state_dict())
        models[name] = ExpressionModel(extractor=viewed, head=head, version=name, extractor_id="bench")
    items = folder_items(found.infant_dir)
    photos = [open_image_file(str(item.path)) for item in items[:: max(1, len(items) // args.n)][: args.n]]
    for model in models.values():
        model.predict(photos[0])  # first calls build caches and the MTCNN nets
    times: dict[str, list[float]] = {name: [] for name in models}
    for photo in photos:
        for name, model in models.items():
            started = time.perf_counter()
            model.predict(photo)
            times[name].append(1000 * (time.perf_counter() - started))
    report: dict[str, object] = {name: summary(ms) for name, ms in times.items()}
    for name in ("tta_flip", "tta_zoom"):
        report[f"{name}_p50_ratio"] = round(summary(times[name])["p50_ms"] / summary(times["plain"])["p50_ms"], 3)
    report.update(n=len(photos), detector=args.detector, image_size=args.image_size, torch_threads=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
