"""What mirrored test-time embeddings (``tta_flip``) cost per photo: the served predict with and without them.

One extractor of the default recipe's size (weights do not change the time), under a head fitted on random
embeddings; each infant photo goes through ``ExpressionModel.predict`` (face detector, crop, extractor, head)
once plainly and once with the mirrored pair, interleaved so that machine noise hits both alike, on one torch
thread as a web worker's request. Prints one JSON object: p50/p95/mean of each and the ratio of the medians.

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
    plain = ExpressionModel(extractor=extractor, head=head, version="plain", extractor_id="bench")
    mirrored = build_extractor(replace(config, tta_flip=True), imagenet=False).eval()
    mirrored.load_state_dict(extractor.state_dict())
    flipped = ExpressionModel(extractor=mirrored, head=head, version="tta", extractor_id="bench")
    items = folder_items(found.infant_dir)
    photos = [open_image_file(str(item.path)) for item in items[:: max(1, len(items) // args.n)][: args.n]]
    for model in (plain, flipped):
        model.predict(photos[0])  # first calls build caches and the MTCNN nets
    times: dict[str, list[float]] = {"plain": [], "tta_flip": []}
    for photo in photos:
        for name, model in (("plain", plain), ("tta_flip", flipped)):
            started = time.perf_counter()
            model.predict(photo)
            times[name].append(1000 * (time.perf_counter() - started))
    report = {name: summary(ms) for name, ms in times.items()}
    report["p50_ratio"] = round(report["tta_flip"]["p50_ms"] / report["plain"]["p50_ms"], 3)
    report.update(n=len(photos), detector=args.detector, image_size=args.image_size, torch_threads=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
