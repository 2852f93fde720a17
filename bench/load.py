"""Load on the production profile: N concurrent clients against two web processes for S seconds.

Starts, on loopback, what ``tests/servers.py`` starts for the integration suite: PostgreSQL (a database of
its own), Redis (one database, emptied), moto's S3, an MLflow server (PostgreSQL store, S3 artifacts), two
daphne web processes and one Celery worker on the ``online`` queue (concurrency 1), with a tiny registered
model (32 px extractor) so the figures measure the serving system rather than the network's arithmetic.
Each client signs in (session + CSRF, as a browser does), then loops: uploads a photo for a prediction,
and every ``--label-every``-th request labels one of its own earlier photos instead; requests alternate
between the two web processes. Afterwards it waits for the online queue to drain and checks that every
acknowledged label (201) is in the database, settled, and in the model lineage: a learned label's version
is in the live line (live → parents) exactly once and lists it; a held-back label's version exists and
lists it. Before the load it times the bare model (decode + predict in this process, one torch thread) on
the same photos, so prediction latency can be read as a ratio against it. Prints one JSON object.

    .venv/bin/python bench/load.py --clients 8 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import percentile, shared_data  # noqa: E402
from bench.load_clients import PASSWORD, Client, drive  # noqa: E402

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def bare_latency(mlflow: str, version: str, images: list[tuple[bytes, str]]) -> list[float]:
    """Milliseconds per ``decode_image`` + ``ExpressionModel.predict`` in this process, one torch thread: the floor."""
    import torch

    from mlcore.imageio import decode_image
    from mlcore.registry import Registry

    torch.set_num_threads(1)
    model = Registry(mlflow).load(version)
    model.predict(decode_image(images[0][0]).image)  # first call pays one-time set-up
    timings = []
    for data, _ in images:
        started = time.perf_counter()
        model.predict(decode_image(data).image)
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def load_images(folder: Path | None, limit: int) -> list[tuple[bytes, str]]:
    """(bytes, label) pairs: the infant photos when present, else generated ones with random labels."""
    suffixes = {".jpg", ".jpeg", ".png", ".webp"}
    found = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in suffixes) if folder is not None else []
    if found:
        random.Random(0).shuffle(found)
        return [(path.read_bytes(), path.parent.name) for path in found[:limit]]
    from tests.images import jpeg_bytes

    return [(jpeg_bytes(size=160, seed=i), LABELS[i % 7]) for i in range(limit)]


def wait_for_drain(database: str, timeout: float) -> float:
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database, autocommit=True) as connection:
        while True:
            queued = connection.execute(
                "SELECT count(*) FROM annotations_annotation WHERE status = 'queued'"
            ).fetchone()[0]
            if queued == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{queued} labels still queued {timeout} s after the load stopped")
            time.sleep(0.5)


def check_lineage(database: str, mlflow: str, acknowledged: list[int]) -> dict[str, object]:
    """Every acknowledged label: in the database, settled, and in the lineage its status says."""
    import psycopg
    from mlflow import MlflowClient

    with psycopg.connect(database) as connection:
        rows = {
            pk: (status, version)
            for pk, status, version in connection.execute(
                "SELECT id, status, model_version FROM annotations_annotation WHERE id = ANY(%s)", [acknowledged]
            )
        }
    client = MlflowClient(mlflow, registry_uri=mlflow)
    versions = {
        str(mv.version): dict(mv.tags)
        for mv in client.search_model_versions("name = 'infantino-expressions'", max_results=100_000)
    }
    live = str(client.get_model_version_by_alias("infantino-expressions", "champion").version)
    line, current = [], live
    while current:
        line.append(current)
        current = versions[current].get("parent_version", "")
    in_line = Counter(
        int(pk) for version in line for pk in versions[version].get("annotation_ids", "").split(",") if pk.isdigit()
    )
    problems: list[str] = []
    statuses: Counter[str] = Counter()
    for pk in acknowledged:
        if pk not in rows:
            problems.append(f"annotation {pk} is not in the database")
            continue
        status, version = rows[pk]
        statuses[status] += 1
        listed = str(pk) in versions.get(version, {}).get("annotation_ids", "").split(",")
        if status == "learned" and not (version in line and listed and in_line[pk] == 1):
            problems.append(f"annotation {pk} is learned into {version} but not exactly once in the live line")
        elif status == "held_back" and not listed:
            problems.append(f"annotation {pk} is held back with version {version}, which does not list it")
        elif status not in {"learned", "held_back", "outvoted"}:
            problems.append(f"annotation {pk} is still {status}")
    return {
        "acknowledged": len(acknowledged),
        "in_database": sum(pk in rows for pk in acknowledged),
        "statuses": dict(statuses),
        "live_version": live,
        "live_line_length": len(line),
        "versions_registered": len(versions),
        "problems": problems[:20],
        "problem_count": len(problems),
        "all_present_and_in_lineage": not problems,
    }


@dataclass(frozen=True)
class Measured:
    """What one run under load measured."""

    setup_seconds: float
    bare_ms: list[float]
    crew: list[Client]
    seconds: float
    drain_seconds: float
    lineage: dict[str, object]


def measure(args: argparse.Namespace, images: list[tuple[bytes, str]], root: Path) -> Measured:
    """Start the production stack, time the bare model, run the clients, wait for the labels, check them."""
    from tests.servers import create_user, production_stack

    setup_started = time.monotonic()
    # MLflow prints run links on stdout; stdout is for the JSON alone.
    with contextlib.redirect_stdout(sys.stderr), production_stack(root, redis_url=args.redis, web_processes=2) as stack:
        for i in range(args.clients):
            create_user(stack.env, f"load-{i}", PASSWORD)
        setup_seconds = time.monotonic() - setup_started
        bare_ms = bare_latency(stack.mlflow, stack.base_version, images)  # before the load, on a quiet machine
        started = time.monotonic()
        crew = asyncio.run(drive(stack.web, args.clients, args.seconds, images, args.label_every))
        elapsed = time.monotonic() - started
        acknowledged = [pk for client in crew for pk in client.acknowledged]
        drain_seconds = wait_for_drain(stack.database, args.drain_timeout)
        lineage = check_lineage(stack.database, stack.mlflow, acknowledged)
    return Measured(setup_seconds, bare_ms, crew, elapsed, drain_seconds, lineage)


def latency(measured: Measured) -> dict[str, Any]:
    """Requests, errors and latency percentiles by kind, and prediction latency against the bare model's."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    for client in measured.crew:
        for kind, seconds, status in client.results:
            if status in (200, 201):
                by_kind[kind].append(1000 * seconds)
            else:
                errors[f"{kind} {status}"] += 1
    total = sum(len(client.results) for client in measured.crew)
    predicted, bare_ms, elapsed = by_kind.get("predict", []), measured.bare_ms, measured.seconds
    return {
        "requests": total,
        "throughput_rps": round(total / elapsed, 1),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "error_samples": [sample for client in measured.crew for sample in client.samples][:5],
        "latency_ms": {
            kind: {
                "n": len(values),
                "rps": round(len(values) / elapsed, 1),
                "p50": round(percentile(values, 50), 1),
                "p95": round(percentile(values, 95), 1),
                "p99": round(percentile(values, 99), 1),
            }
            for kind, values in sorted(by_kind.items())
        },
        "bare_predict_ms": {
            "n": len(bare_ms),
            "p50": round(percentile(bare_ms, 50), 1),
            "p95": round(percentile(bare_ms, 95), 1),
        },
        "predict_p50_over_bare_p50": round(percentile(predicted, 50) / percentile(bare_ms, 50), 2)
        if predicted
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--label-every", type=int, default=4, help="every n-th request of a client is a label")
    parser.add_argument("--images", type=Path, default=shared_data().infant_dir)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10", help="a Redis database the bench may empty")
    parser.add_argument("--drain-timeout", type=float, default=600)
    args = parser.parse_args()

    os.environ.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "INFANTINO_THROTTLE": "false",  # rate limits are not what this measures
            "INFANTINO_HTTPS": "false",  # plain http on loopback; behind a proxy TLS ends there
            "LOG_LEVEL": "WARNING",
        }
    )
    images = load_images(args.images, limit=120)
    root = Path(tempfile.mkdtemp(prefix="infantino-bench-load-"))
    measured = measure(args, images, root)
    found = args.images is not None and args.images.is_dir()
    report = {
        "bench": "load",
        "command": " ".join([".venv/bin/python", "bench/load.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "setup": {
            "web_processes": 2,
            "online_workers": "1 (concurrency 1)",
            "services": "PostgreSQL, Redis, moto S3, MLflow server (PostgreSQL store, S3 artifacts)",
            "model": "tiny registered model (32 px extractor)",
            "images": f"{len(images)} from {args.images}" if found else "generated",
            "seconds_to_start": round(measured.setup_seconds, 1),
        },
        "clients": args.clients,
        "seconds": round(measured.seconds, 1),
        **latency(measured),
        "queue_drained_after_s": round(measured.drain_seconds, 1),
        "labels": measured.lineage,
        "work_dir": str(root),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
