"""Online learning, end to end: label → live-version latency, and how fast a burst of labels is learned.

Copies a trained live model (its head, extractor and reference data) into a throw-away store and
database, so the app's own model is untouched. The extractor's validation sets are split in two,
stratified by label: one half goes with the bench model and is what the forgetting guard sees; the
other half is held out and only scored before and after. Stream images are infant photos the model
trained on (matched to the reference by nearest embedding; every validation photo is left out).

The stream runs through the real path (POST /api/annotations/ → the job worker thread → the correction
refit → MLflow version → live alias) three times from the same base version: paced (each label waited
for: the label → live latency), with the guard switched off, and as one burst (every label posted at once,
as an import or a script would: how long until all are settled, and how many versions they made). Prints
one JSON object.

    .venv/bin/python bench/online.py --source-var /tmp/infantino-bench-var [--labels 300] [--burst 100]
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
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import cpu, percentile, shared_data  # noqa: E402
from bench.online_data import Source, Stream  # noqa: E402

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel
    from mlcore.reference import ReferenceData
    from mlcore.registry import Registry

BENCH_USER = "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source-var",
        type=lambda value: Path(value).resolve(),
        default=REPO / "var",
        help="var dir whose MLflow store holds the trained live model (with reference data)",
    )
    parser.add_argument("--source-model", default="infantino-expressions")
    parser.add_argument(
        "--artifacts", default="mlartifacts", help="the artifact folder in --source-var (a bench start's: artifacts)"
    )
    parser.add_argument("--burst", type=int, default=100, help="labels posted at once in the burst run (0: none)")
    parser.add_argument("--images", type=Path, default=shared_data().infant_dir)
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.images is None:
        sys.exit("no infant photos under ../shared/data: name a folder with --images")
    return args


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="infantino-bench-online-"))
    start_django(work)
    import torch
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from accounts.services import annotator_grant
    from annotations.learning.warmup import warm_up
    from mlcore.registry import Registry

    torch.set_num_threads(settings.INFANTINO_TORCH_THREADS)
    source_registry = Registry(
        f"sqlite:///{args.source_var / 'mlflow.db'}",
        artifact_root=(args.source_var / args.artifacts).as_uri(),
        model_name=args.source_model,
    )
    source = Source.load(source_registry, where=args.source_var, seed=args.seed)
    base = copy_into_bench_store(source, copied_from=f"{args.source_var}:{args.source_model}/{source.version}")
    stream = Stream.draw(args.images, source, labels=args.labels, seed=args.seed)
    annotator_grant(user=get_user_model().objects.create_user(BENCH_USER, password="bench-online-42"))
    started = time.monotonic()
    images = upload(stream)
    upload_seconds = time.monotonic() - started
    started = time.monotonic()
    warm_up()  # what the job worker does when it starts
    warm_seconds = time.monotonic() - started
    with_guard = run_stream(source, base, stream, images, guard=True)
    without = run_stream(source, base, stream, images, guard=False)
    runs = {"paced_with_guard": with_guard, "paced_without_guard": without}
    if args.burst:
        runs["burst_with_guard"] = run_burst(source, base, stream, images[: args.burst])
    report = {
        "bench": "online",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(),
        },
        "source_model": {
            "store": str(args.source_var),
            "version": source.version,
            "kind": source_registry.version_info(source.version).tags.get("kind"),
        },
        "held_out": validation_sizes(source.held),
        "guard_validation": validation_sizes(source.guard),
        "stream": stream.summary(),
        "setup_seconds": {"upload_and_predict": round(upload_seconds, 1), "warm_up": round(warm_seconds, 1)},
        "tolerance": settings.INFANTINO_FORGETTING_TOLERANCE,
        "cpu": cpu(),
        "correction_strength": settings.INFANTINO_CORRECTION_STRENGTH,
        "runs": runs,
        "work_dir": str(work),
    }
    print(json.dumps(report, indent=2))


def start_django(work: Path) -> None:
    """The app on a throw-away var dir: SQLite, an MLflow store of its own, jobs in a worker thread."""
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
            "INFANTINO_RETRAIN_EVERY": "0",  # minutes each: a bench that wants them trains them itself
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "S3_BUCKET"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def bench_registry() -> Registry:
    """The registry the app itself uses in this process (one object per store)."""
    from django.conf import settings

    from mlcore.registry import registry_for

    return registry_for(
        settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS, settings.INFANTINO_MODEL_NAME
    )


def copy_into_bench_store(source: Source, *, copied_from: str, kind: str = "bench-base") -> str:
    """The source model's head and extractor, with the guard's half of the validation sets, as the bench's base
    (``kind``: the source's own, where the app reads how its head was fitted)."""
    model, registry = source.model, bench_registry()
    extractor_id = registry.log_extractor(model.extractor, reference=source.guard)
    base = registry.register(
        head=model.head,
        extractor_id=extractor_id,
        kind=kind,
        temperature=model.temperature,
        abstain_threshold=model.abstain_threshold,
        tags={"copied_from": copied_from},
    )
    registry.set_live(base, by="bench")
    return base


def upload(stream: Stream) -> list[str]:
    """Each stream photo uploaded (and predicted) once, by the bench user; returns the prediction ids."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from predictions.services import prediction_create

    user = get_user_model().objects.get(username=BENCH_USER)
    return [
        str(
            prediction_create(
                upload=SimpleUploadedFile(item.path.name, item.path.read_bytes()), user=user, consent=True
            ).pk
        )
        for item in stream.items
    ]


def reset_to(base: str, *, guard: bool) -> None:
    """No labels, ``base`` live and served, the guard on or off."""
    from django.conf import settings

    from annotations.models import Annotation
    from common.jobs import wait_for_idle
    from predictions import ml

    wait_for_idle(120)
    settings.INFANTINO_FORGETTING_GUARD = guard
    Annotation.objects.all().delete()
    bench_registry().set_live(base, by="bench")
    ml.backend().serve(base)


def run_burst(source: Source, base: str, stream: Stream, images: list[str]) -> dict[str, Any]:
    """Every label posted at once, then how long until the last is settled and how many versions they made."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from annotations.models import Annotation
    from common.jobs import wait_for_idle
    from mlcore.labels import LABELS

    reset_to(base, guard=True)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=BENCH_USER))
    started = time.monotonic()
    ids = []
    for image, item in zip(images, stream.items, strict=False):
        response = client.post("/api/annotations/", {"image": image, "label": LABELS[item.label]}, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    posted = time.monotonic() - started
    statuses = [settle(Annotation, pk) for pk in ids]
    settled = time.monotonic() - started
    wait_for_idle(120)
    registry = bench_registry()
    made = Annotation.objects.filter(pk__in=ids).values_list("model_version", flat=True).distinct()
    final = registry.load(registry.live_version())
    return {
        "labels": len(ids),
        "seconds_to_post_all": round(posted, 2),
        "seconds_until_all_settled": round(settled, 2),
        "seconds_until_idle": round(time.monotonic() - started, 2),
        "versions_made": len(set(made)),
        "learned": statuses.count(Annotation.Status.LEARNED),
        "held_back": statuses.count(Annotation.Status.HELD_BACK),
        "live_version_after": final.version,
        **scores(source, final),
    }


def run_stream(source: Source, base: str, stream: Stream, images: list[str], *, guard: bool) -> dict[str, Any]:
    """Post every label from the base version on, each once it is settled; score the live version at the end."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from annotations.models import Annotation
    from common.jobs import wait_for_idle
    from mlcore.labels import LABELS

    reset_to(base, guard=guard)
    registry = bench_registry()
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=BENCH_USER))
    latencies, statuses = [], {"learned": 0, "held_back": 0, "queued": 0}
    run_started = time.monotonic()
    for image, item in zip(images, stream.items, strict=True):
        t0 = time.perf_counter()
        response = client.post("/api/annotations/", {"image": image, "label": LABELS[item.label]}, format="json")
        assert response.status_code == 201, response.content
        status = settle(Annotation, response.json()["id"])
        statuses[status] += 1
        if status == Annotation.Status.LEARNED:
            latencies.append(1000 * (time.perf_counter() - t0))
    wait_for_idle(60)
    final = registry.load(registry.live_version())
    return {
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
        **scores(source, final),
    }


def settle(annotation: Any, annotation_id: int) -> str:
    """Wait until the label's job has settled it; its status."""
    while True:
        status = annotation.objects.filter(pk=annotation_id).values_list("status", flat=True).first()
        if status != annotation.Status.QUEUED:
            return status
        time.sleep(0.005)


def scores(source: Source, final: ExpressionModel) -> dict[str, Any]:
    """Accuracy before (the source head) and after (the live head) on the held-out half and on the guard's."""
    from mlcore.learner import evaluate

    held = evaluate(source.model.head, source.held), evaluate(final.head, source.held)
    guard = evaluate(source.model.head, source.guard), evaluate(final.head, source.guard)
    fer_lost = round(100 * (held[0]["fer_accuracy"] - held[1]["fer_accuracy"]), 2)
    return {
        "infant_heldout_accuracy": before_after(held, "infant_accuracy"),
        "infant_heldout_macro_f1": before_after(held, "infant_macro_f1"),
        "fer_validation_accuracy": {**before_after(held, "fer_accuracy"), "points_lost": fer_lost},
        "guard_half_accuracy": {d: before_after(guard, f"{d}_accuracy") for d in source.guard.domains},
    }


def before_after(metrics: tuple[dict[str, float], dict[str, float]], key: str) -> dict[str, float]:
    return {"before": round(metrics[0][key], 4), "after": round(metrics[1][key], 4)}


def validation_sizes(reference: ReferenceData) -> dict[str, int]:
    return {domain: len(y) for domain, y in reference.val_y.items()}


if __name__ == "__main__":
    main()
