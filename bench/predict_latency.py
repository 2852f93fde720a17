"""Latency of POST /api/predictions/ against a running server vs the bare mlcore predict, same images, same run.

Starts a daphne server in the embedded profile on a throw-away copy of the app's MLflow store (so the
app's own database and media are untouched), then, image by image, times one HTTP upload and one bare
``decode_image`` + ``ExpressionModel.predict`` in this process, interleaved so that machine noise hits
both alike. Both sides use one torch thread. Prints one JSON object.

    .venv/bin/python bench/predict_latency.py [--n 60] [--images DIR] [--var var]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import shared_data, summary  # noqa: E402
from tests.servers import app_env, app_server  # noqa: E402


def load_images(folder: Path | None, n: int) -> tuple[list[bytes], str]:
    if folder is not None and folder.is_dir():
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
        random.Random(0).shuffle(paths)
        return [p.read_bytes() for p in paths[:n]], str(folder)
    from tests.images import jpeg_bytes

    return [jpeg_bytes(size=320, seed=i) for i in range(n)], "generated 320 px images"


def post(url: str, data: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "/api/predictions/",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="images to time (each once per side)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--images", type=Path, default=shared_data().infant_dir)
    parser.add_argument("--var", type=Path, default=REPO / "var", help="the app's var/ with a live model")
    args = parser.parse_args()

    if not (args.var / "mlflow.db").exists():
        sys.exit(f"no MLflow store at {args.var / 'mlflow.db'}: run `make run` or bootstrap_model first")
    images, source = load_images(args.images, args.n)

    import torch

    from mlcore.imageio import decode_image
    from mlcore.registry import Registry

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        shutil.copy(args.var / "mlflow.db", var / "mlflow.db")  # artifacts stay where the store points
        registry = Registry(f"sqlite:///{var / 'mlflow.db'}")
        model = registry.load()
        env = app_env(var, INFANTINO_TORCH_THREADS="1", INFANTINO_MODEL_POLL_SECONDS="2", INFANTINO_THROTTLE="false")
        with app_server(env, var / "server.log") as url:
            for data in images[: args.warmup]:
                post(url, data)
                model.predict(decode_image(data).image)
            api_ms, bare_ms = [], []
            for data in images:
                started = time.perf_counter()
                answer = post(url, data)
                api_ms.append(1000 * (time.perf_counter() - started))
                started = time.perf_counter()
                model.predict(decode_image(data).image)
                bare_ms.append(1000 * (time.perf_counter() - started))
                assert answer["model_version"] == model.version

    api, bare = summary(api_ms), summary(bare_ms)
    print(
        json.dumps(
            {
                "benchmark": "predict_latency",
                "n": len(images),
                "images": source,
                "model_version": model.version,
                "api_post_predictions": api,
                "bare_mlcore_predict": bare,
                "ratio_p50": round(api["p50_ms"] / bare["p50_ms"], 3),
                "ratio_p95": round(api["p95_ms"] / bare["p95_ms"], 3),
                "target_ratio": 1.5,
                "torch_threads": 1,
                "machine": f"{platform.machine()} cpus={os.cpu_count()}",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
