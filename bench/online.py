"""Online learning, end to end: label → live-version latency, and what a 300-label infant stream does.

Copies a trained live model (its head, extractor and reference data) into a throw-away store and
database, so the app's own model is untouched. The extractor's validation sets are split in two,
stratified by label: one half goes with the bench model and is what the forgetting guard sees; the
other half is held out and only scored before and after. Stream images are infant photos the model
trained on (matched to the reference by nearest embedding; every validation photo is left out).

The same stream runs twice through the real path (POST /api/annotations/ → the job worker thread →
partial_fit → MLflow version → live alias): with replay and the guard (the defaults), and with both
switched off. Prints one JSON object.

    .venv/bin/python bench/online.py --source-var /tmp/infantino-bench-var [--labels 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def stratified_halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first, second = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        first.extend(idx[: (len(idx) + 1) // 2])
        second.extend(idx[(len(idx) + 1) // 2 :])
    return np.sort(first), np.sort(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source-var",
        type=lambda value: Path(value).resolve(),
        default=REPO / "var",
        help="var dir whose MLflow store holds the trained live model (with reference data)",
    )
    parser.add_argument("--source-model", default="infantino-expressions")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "infant")
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="infantino-bench-online-"))
    os.environ.update(
        {
            "INFANTINO_VAR_DIR": str(work),
            "INFANTINO_JOB_RUNNER": "thread",
            "INFANTINO_MODEL_NAME": "bench-online",
            "INFANTINO_WARM_START": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DJANGO_SETTINGS_MODULE": "infantino_site.settings",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "INFANTINO_THROTTLE": "false",  # a label stream from one client, as fast as it goes
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "S3_BUCKET"):
        os.environ.pop(name, None)
    import django

    django.setup()
    import torch
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from annotations import learning
    from annotations.models import Annotation
    from infantino_site.jobs import wait_for_idle
    from mlcore.datasets import folder_items
    from mlcore.imageio import open_image_file
    from mlcore.labels import LABELS
    from mlcore.learner import evaluate
    from mlcore.reference import ReferenceData
    from mlcore.registry import Registry
    from predictions import ml
    from predictions.services import prediction_create

    torch.set_num_threads(settings.INFANTINO_TORCH_THREADS)
    call_command("migrate", verbosity=0)

    # ---- the trained model, copied into the bench store with half of each validation set -----------------
    source = Registry(
        f"sqlite:///{args.source_var / 'mlflow.db'}",
        artifact_root=(args.source_var / "mlartifacts").as_uri(),
        model_name=args.source_model,
    )
    source_version = source.live_version()
    if source_version is None:
        sys.exit(f"no live model in {args.source_var}: run bootstrap_model or train there first")
    model = source.load(source_version)
    reference = source.load_reference(model.extractor_id)
    if reference is None:
        sys.exit(f"version {source_version} in {args.source_var} has no reference data (validation sets)")
    guard_val: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    held_out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for domain in reference.domains:
        guard_idx, held_idx = stratified_halves(reference.val_y[domain], args.seed)
        guard_val[domain] = (reference.val_x[domain][guard_idx], reference.val_y[domain][guard_idx])
        held_out[domain] = (reference.val_x[domain][held_idx], reference.val_y[domain][held_idx])
    guard_reference = ReferenceData(
        val_x={d: v[0] for d, v in guard_val.items()},
        val_y={d: v[1] for d, v in guard_val.items()},
        replay_x=reference.replay_x,
        replay_y=reference.replay_y,
        replay_domain=reference.replay_domain,
    )
    held_reference = ReferenceData(
        val_x={d: v[0] for d, v in held_out.items()},
        val_y={d: v[1] for d, v in held_out.items()},
        replay_x=reference.replay_x[:0],
        replay_y=reference.replay_y[:0],
        replay_domain=reference.replay_domain[:0],
    )
    registry = ml.registry()
    extractor_id = registry.log_extractor(model.extractor, reference=guard_reference)
    base = registry.register(
        head=model.head,
        extractor_id=extractor_id,
        kind="bench-base",
        temperature=model.temperature,
        abstain_threshold=model.abstain_threshold,
        tags={"copied_from": f"{args.source_var}:{args.source_model}/{source_version}"},
    )
    registry.set_live(base, by="bench")

    # ---- the stream: infant photos from training, never a validation one ---------------------------------
    items = folder_items(args.images)
    faces = [model.crop(open_image_file(str(item.path))).image for item in items]
    embedded = np.concatenate([model.embed(faces[i : i + 32]) for i in range(0, len(faces), 32)])
    infant_val = reference.val_x.get("infant", np.empty((0, embedded.shape[1])))
    infant_train = reference.replay_x[reference.replay_domain == "infant"]
    known = np.concatenate([infant_val, infant_train])
    distance = ((embedded[:, None, :] - known[None, :, :]) ** 2).sum(axis=2)
    in_validation = distance.argmin(axis=1) < len(infant_val)
    train_items = [item for item, val in zip(items, in_validation, strict=True) if not val]
    rng = np.random.default_rng(args.seed)
    replace = len(train_items) < args.labels
    stream = [train_items[i] for i in rng.choice(len(train_items), size=args.labels, replace=replace)]

    user = get_user_model().objects.create_user("bench", password="bench-online-42")
    client = APIClient()
    client.force_authenticate(user)
    started = time.monotonic()
    images = [
        str(prediction_create(upload=SimpleUploadedFile(item.path.name, item.path.read_bytes()), user=user).pk)
        for item in stream
    ]
    upload_seconds = time.monotonic() - started

    warm_started = time.monotonic()
    learning.warm_up()  # what the job worker does when it starts
    warm_seconds = time.monotonic() - warm_started

    def run(name: str, *, replay_size: int, guard: bool) -> dict[str, object]:
        settings.INFANTINO_REPLAY_SIZE = replay_size
        settings.INFANTINO_FORGETTING_GUARD = guard
        Annotation.objects.all().delete()
        registry.set_live(base, by="bench")
        ml.live_model.reset()
        latencies, statuses = [], {"learned": 0, "held_back": 0, "queued": 0}
        run_started = time.monotonic()
        for image, item in zip(images, stream, strict=True):
            t0 = time.perf_counter()
            response = client.post("/api/annotations/", {"image": image, "label": LABELS[item.label]}, format="json")
            assert response.status_code == 201, response.content
            annotation_id = response.json()["id"]
            while True:
                status = Annotation.objects.filter(pk=annotation_id).values_list("status", flat=True).first()
                if status != Annotation.Status.QUEUED:
                    break
                time.sleep(0.005)
            elapsed = 1000 * (time.perf_counter() - t0)
            statuses[status] += 1
            if status == Annotation.Status.LEARNED:
                latencies.append(elapsed)
        wait_for_idle(60)
        final = registry.load(registry.live_version())
        before_held, after_held = evaluate(model.head, held_reference), evaluate(final.head, held_reference)
        before_guard, after_guard = evaluate(model.head, guard_reference), evaluate(final.head, guard_reference)
        return {
            "replay_size": replay_size,
            "guard": guard,
            "labels": len(images),
            **statuses,
            "live_version_after": final.version,
            "seconds": round(time.monotonic() - run_started, 1),
            "latency_ms": {
                "n": len(latencies),
                "p50": round(percentile(latencies, 50), 1),
                "p95": round(percentile(latencies, 95), 1),
                "mean": round(statistics.fmean(latencies), 1),
            }
            if latencies
            else None,
            "infant_heldout_accuracy": {
                "before": round(before_held["infant_accuracy"], 4),
                "after": round(after_held["infant_accuracy"], 4),
            },
            "infant_heldout_macro_f1": {
                "before": round(before_held["infant_macro_f1"], 4),
                "after": round(after_held["infant_macro_f1"], 4),
            },
            "fer_validation_accuracy": {
                "before": round(before_held["fer_accuracy"], 4),
                "after": round(after_held["fer_accuracy"], 4),
                "points_lost": round(100 * (before_held["fer_accuracy"] - after_held["fer_accuracy"]), 2),
            },
            "guard_half_accuracy": {
                d: {"before": round(before_guard[f"{d}_accuracy"], 4), "after": round(after_guard[f"{d}_accuracy"], 4)}
                for d in guard_reference.domains
            },
        }

    with_guard = run("replay_and_guard", replay_size=settings.INFANTINO_REPLAY_SIZE, guard=True)
    without = run("no_replay_no_guard", replay_size=0, guard=False)
    print(
        json.dumps(
            {
                "bench": "online",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "torch_threads": torch.get_num_threads(),
                },
                "source_model": {
                    "store": str(args.source_var),
                    "version": source_version,
                    "kind": source.version_info(source_version).tags.get("kind"),
                },
                "held_out": {d: len(v[1]) for d, v in held_out.items()},
                "guard_validation": {d: len(v[1]) for d, v in guard_val.items()},
                "stream": {
                    "labels": len(stream),
                    "unique_images": len({item.path for item in stream}),
                    "training_photos_available": len(train_items),
                    "with_replacement": replace,
                    "validation_photos_left_out": int(in_validation.sum()),
                    "labels_by_class": {
                        LABELS[c]: int(n)
                        for c, n in enumerate(np.bincount([i.label for i in stream], minlength=len(LABELS)))
                    },
                },
                "setup_seconds": {"upload_and_predict": round(upload_seconds, 1), "warm_up": round(warm_seconds, 1)},
                "tolerance": settings.INFANTINO_FORGETTING_TOLERANCE,
                "runs": {"replay_and_guard": with_guard, "no_replay_no_guard": without},
                "work_dir": str(work),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
