"""Clip analysis speed through a running server, photo latency meanwhile, and where a clip's time goes.

    .venv/bin/python bench/video.py [--seconds 60] [--fps 4] [--photos 40]

Registers a model of the shipped recipe's architecture (``TrainConfig``'s backbone, input size, face detector and
test-time flip; random weights: speed does not depend on them) in a throw-away MLflow store, starts a daphne server
in the embedded profile on it, then:

1. times ``POST /api/predictions/`` on ``--photos`` infant photos with nothing else running (idle);
2. for two clips of ``--seconds`` (a generated one: face-like pictures on noise, a new one each second; and one made
   from the infant dev photos, two seconds each), 640×480 at 30 frames/s, uploads it to ``POST /api/videos/`` at
   ``--fps`` and polls ``GET /api/videos/<id>/`` until done (the analysis's wall time), posting the same photos
   meanwhile (their latency while a clip is analysed);
3. in this process, splits one clip's analysis into decode (PyAV as served, OpenCV for comparison), face detection,
   embedding and head, on the same sampled frames, with the server's thread count.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import cpu, shared_data, summary  # noqa: E402
from tests.servers import PROFILE_VARIABLES, TEMPLATES, app_env, app_server  # noqa: E402

SIZE = (640, 480)
CLIP_FPS = 30


def register_model(var: Path) -> tuple[str, dict[str, Any]]:
    """A model with the shipped recipe's architecture, live in a fresh store under ``var``; returns its version."""
    import torch

    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.registry import Registry
    from mlcore.training import TrainConfig
    from tests.conftest import tiny_head

    recipe = TrainConfig()
    config = ExtractorConfig(
        arch=recipe.arch,
        image_size=recipe.image_size,
        face_detector=recipe.face_detector,
        face_margin=recipe.face_margin,
        tta_flip=recipe.tta_flip,
        tta_zoom=recipe.tta_zoom,
    )
    torch.manual_seed(0)
    registry = Registry(f"sqlite:///{var / 'mlflow.db'}", artifact_root=(var / "mlartifacts").as_uri())
    extractor = build_extractor(config, imagenet=False).eval()
    version = registry.register(
        head=tiny_head(),
        extractor_id=registry.log_extractor(extractor),
        kind="bench",
        metrics={"infant_accuracy": 0.5, "fer_accuracy": 0.5},
    )
    registry.set_live(version, by="bench")
    shown = {"arch": config.arch, "image_size": config.image_size, "face_detector": config.face_detector}
    return version, {**shown, "tta_flip": config.tta_flip, "tta_zoom": config.tta_zoom}


def infant_photos(limit: int) -> list[Path]:
    folder = shared_data().infant_dir
    if folder is None:
        sys.exit("no infant dev photos (../shared/data/infant): the benchmark needs them")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    return paths[:: max(1, len(paths) // limit)][:limit]


def make_clips(work: Path, seconds: int, photos: list[Path]) -> dict[str, Path]:
    from PIL import Image, ImageOps

    from tests.images import face_like
    from videos.media import write_clip

    generated = []
    for second in range(seconds):
        picture = face_like(SIZE[1], seed=second)
        frame = Image.fromarray(np.random.default_rng(second).integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8))
        frame.paste(picture, ((SIZE[0] - SIZE[1]) // 2, 0))
        generated += [frame] * CLIP_FPS
    framed = [ImageOps.pad(Image.open(p).convert("RGB"), SIZE, color=(0, 0, 0)) for p in photos]
    from_photos = [framed[(i // (2 * CLIP_FPS)) % len(framed)] for i in range(seconds * CLIP_FPS)]
    clips = {"generated": work / "generated.mp4", "dev_photos": work / "dev_photos.mp4"}
    write_clip(clips["generated"], generated, fps=CLIP_FPS)
    write_clip(clips["dev_photos"], from_photos, fps=CLIP_FPS)
    return clips


def multipart(field: str, name: str, data: bytes, **fields: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return b"".join(parts) + head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


# One browser session for every request: a clip belongs to its uploader's session, anyone else gets a 404.
SESSION = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def post(url: str, path: str, field: str, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    body, boundary = multipart(field, name, data, **fields)
    request = urllib.request.Request(
        url + path, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with SESSION.open(request, timeout=120) as response:
        return json.loads(response.read())


def get(url: str) -> dict[str, Any]:
    with SESSION.open(url, timeout=60) as response:
        return json.loads(response.read())


def photo_latencies(url: str, photos: list[bytes], *, until: threading.Event | None = None) -> list[float]:
    """Milliseconds per photo upload, one after another: all photos once, or round and round until ``until``."""
    timings: list[float] = []
    index = 0
    while True:
        if until is None and index == len(photos):
            return timings
        if until is not None and until.is_set():
            return timings
        started = time.perf_counter()
        post(url, "/api/predictions/", "image", "photo.jpg", photos[index % len(photos)])
        timings.append(1000 * (time.perf_counter() - started))
        index += 1
        if until is not None:
            time.sleep(0.2)  # a person uploading now and then, not a flood


def analyse_on_server(url: str, clip: Path, fps: int, photos: list[bytes]) -> dict[str, Any]:
    done = threading.Event()
    latencies: list[float] = []
    uploader = threading.Thread(target=lambda: latencies.extend(photo_latencies(url, photos, until=done)))
    started = time.perf_counter()
    queued = post(url, "/api/videos/", "video", clip.name, clip.read_bytes(), fps=str(fps))
    accepted = time.perf_counter()
    uploader.start()
    while True:
        state = get(f"{url}/api/videos/{queued['id']}/")
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    finished = time.perf_counter()
    wall = finished - accepted  # from the 202 to done: the job alone (it starts as the upload commits)
    done.set()
    uploader.join()
    faces = sum(1 for frame in state["frames"] if frame["face"])
    return {
        "status": state["status"],
        "duration_s": state["duration_s"],
        "frames_analysed": len(state["frames"]),
        "frames_with_face": faces,
        "segments": len(state["segments"]),
        "upload_answered_s": round(accepted - started, 2),
        "analysis_wall_s": round(wall, 2),
        "upload_to_timeline_s": round(finished - started, 2),
        "ratio_to_duration": round(wall / state["duration_s"], 3),
        "frames_per_s": round(len(state["frames"]) / wall, 2),
        "photo_upload_during": summary(latencies) if latencies else None,
        "photo_uploads_during": len(latencies),
    }


def breakdown(clip: Path, fps: int, threads: int) -> dict[str, Any]:
    """Where one clip's analysis time goes, stage by stage, on the frames the server samples."""
    import django

    django.setup()
    from mlcore import runtime
    from predictions import ml
    from videos import media
    from videos.timeline import FaceTracker

    runtime.configure(intra=threads)
    model = ml.backend().served()
    warm = media.frame_at(clip, 0.0)  # the first calls' one-time costs are not the clip's
    model.detector.detect(warm)
    model.embed([warm])
    cpu_started, started = time.process_time(), time.perf_counter()
    frames = list(media.sample_frames(clip, fps=fps, max_seconds=3600))
    decode_pyav = time.perf_counter() - started
    decode_opencv = opencv_decode_seconds(clip, fps)
    tracker = FaceTracker()
    detect = embed = head = 0.0
    crops, boxes = [], []
    for frame in frames:
        started = time.perf_counter()
        box = tracker.follow(model.detector.detect(frame.image))
        detect += time.perf_counter() - started
        if box is not None:
            crops.append(ml.square_crop(frame.image, box, margin=model.config.face_margin))
            boxes.append(box)
    for start in range(0, len(crops), 8):
        began = time.perf_counter()
        embeddings = model.embed(crops[start : start + 8])
        embed += time.perf_counter() - began
        began = time.perf_counter()
        for row in range(len(embeddings)):
            model.predict_embedding(embeddings[row : row + 1], boxes[start + row])
        head += time.perf_counter() - began
    total = decode_pyav + detect + embed + head
    cpu_total = time.process_time() - cpu_started
    return {
        "cpu_seconds": round(cpu_total, 2),
        "cpu_ms_per_frame": round(1000 * cpu_total / max(1, len(frames)), 1),
        "frames": len(frames),
        "faces": len(crops),
        "seconds": {
            "decode_pyav": round(decode_pyav, 2),
            "detect": round(detect, 2),
            "embed": round(embed, 2),
            "head": round(head, 2),
            "total": round(total, 2),
        },
        "share": {
            "decode": round(decode_pyav / total, 3),
            "detect": round(detect / total, 3),
            "embed": round(embed / total, 3),
            "head": round(head / total, 3),
        },
        "decode_opencv_s": round(decode_opencv, 2),
        "ms_per_frame": round(1000 * total / max(1, len(frames)), 1),
    }


def opencv_decode_seconds(clip: Path, fps: int) -> float:
    """The same sampling with ``cv2.VideoCapture`` (grab every frame, decode to RGB only those sampled)."""
    import cv2

    started = time.perf_counter()
    capture = cv2.VideoCapture(str(clip))
    step, due, index = 1.0 / fps, 0.0, 0
    native = capture.get(cv2.CAP_PROP_FPS) or CLIP_FPS
    while capture.grab():
        t = index / native
        index += 1
        if t + 1e-6 < due:
            continue
        ok, frame = capture.retrieve()
        if ok:
            cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        due += step
    capture.release()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of each clip")
    parser.add_argument("--fps", type=int, default=4, help="frames analysed per second")
    parser.add_argument("--photos", type=int, default=40, help="infant photos: the photo uploads and the second clip")
    parser.add_argument("--breakdown-only", action="store_true", help="step 3 alone: no server, no photo latency")
    args = parser.parse_args()

    photo_paths = infant_photos(args.photos)
    photos = [path.read_bytes() for path in photo_paths]
    with tempfile.TemporaryDirectory(prefix="infantino-bench-video-") as tmp:
        var = Path(tmp)
        version, architecture = register_model(var)
        clips = make_clips(var, args.seconds, photo_paths)
        TEMPLATES.root = var / "template"  # the migrated database and static files the server starts from
        env = app_env(var, INFANTINO_THROTTLE="false", INFANTINO_WARM_START="true")
        idle: dict[str, float] = {}
        results: dict[str, dict[str, Any]] = {}
        if not args.breakdown_only:
            with app_server(env, var / "server.log") as url:
                for data in photos[:5]:  # warm: the model, the face detector, the first request's imports
                    post(url, "/api/predictions/", "image", "photo.jpg", data)
                idle = summary(photo_latencies(url, photos))
                results = {name: analyse_on_server(url, clip, args.fps, photos) for name, clip in clips.items()}
        for name in PROFILE_VARIABLES:  # registering set MLflow's variables here: this process is the embedded app
            os.environ.pop(name, None)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "infantino_site.settings"
        threads = int(env.get("INFANTINO_TORCH_THREADS", "1"))
        split = {name: breakdown(clip, args.fps, threads) for name, clip in clips.items()}

    during = [result["photo_upload_during"]["p50_ms"] for result in results.values() if result["photo_upload_during"]]
    worst = max(during, default=float("nan"))
    print(
        json.dumps(
            {
                "benchmark": "video",
                "cpu": cpu()["model"],
                "cpus": os.cpu_count(),
                "model": {"version": version, **architecture},
                "clip": {"seconds": args.seconds, "size": list(SIZE), "file_fps": CLIP_FPS, "analysed_fps": args.fps},
                "photo_upload_idle": idle,
                "clips": results,
                "where_the_time_goes": split,
                "targets": {
                    "analysis_at_most_half_the_duration": all(r["ratio_to_duration"] <= 0.5 for r in results.values())
                    if results
                    else None,
                    "photo_p50_within_1_5x_idle": worst <= 1.5 * idle["p50_ms"] if idle else None,
                    "photo_p50_ratio": round(worst / idle["p50_ms"], 3) if idle else None,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
