"""Single-photo predict latency while a training runs in the same process, against idle, as one JSON object.

    .venv/bin/python bench/serve_while_training.py [--seconds 60] [--every 0.5] [--nice 10] [--preset full]

The embedded web server trains on a thread of its own (the "infantino-training" lane of ``infantino_site.jobs``),
lowered with ``lower_priority(INFANTINO_TRAIN_NICE)`` before its first torch operation, while request threads
predict with INFANTINO_TORCH_THREADS torch threads. This does the same without the web server, in one run:

1. idle: one ``decode_image`` + ``ExpressionModel.predict`` of an infant photo every ``--every`` seconds (as
   users' uploads come, not back to back) for ``--idle-seconds``;
2. training: ``mlcore.training.train`` on the shared data (FER2013 CSV and infant photos) on a thread niced to
   ``--nice``, into a throw-away MLflow store in a temporary folder, while the same predictions run for
   ``--seconds`` after it started (or after it first reports ``--from-stage``, e.g. ``fer``); then the training
   is asked to stop and waited for.

The model predicting is the live version of the app's store (``--tracking-uri``, ``--version``). Reported: p50
and p95 both ways and their ratios (during / idle), predictions per training stage, the niceness and
``torch.get_num_threads()`` of the predicting and the training thread, and the most OS threads seen.
``--preset tiny`` with ``--fer-limit`` makes a seconds-long smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bench.common import SHARED_DATA, summary  # noqa: E402

# The server's own call, so the thread is lowered exactly as it is there: importing the module needs Django
# installed but not configured, and lower_priority reads no setting.
from infantino_site.jobs import lower_priority  # noqa: E402
from mlcore.datasets import DataFolders, data_folders  # noqa: E402

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel
    from mlcore.progress import ProgressEvent
    from mlcore.training import TrainConfig


def niceness() -> int:
    """This thread's niceness (Linux keeps one per thread)."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def os_threads() -> int:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else threading.active_count()


class Training:
    """One training on its own thread, as the server's training lane runs it; its stage is read by the bench."""

    def __init__(self, config: TrainConfig, store: Path, *, nice: int) -> None:
        from mlcore.registry import Registry

        self.config, self.nice = config, nice
        self.registry = Registry(
            f"sqlite:///{store / 'mlflow.db'}", artifact_root=(store / "artifacts").as_uri(), model_name="bench"
        )
        self.registry.live_version()  # creates the store's tables now: the server's store exists before it trains
        self.stage = "starting"
        self.stages: list[str] = []
        self.outcome = "running"
        self.niceness: int | None = None
        self.torch_threads: int | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="infantino-training", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _progress(self, event: ProgressEvent) -> None:
        if event.stage != self.stage:
            self.stage = event.stage
            self.stages.append(event.stage)

    def _run(self) -> None:
        import torch

        from mlcore.training import TrainingCancelled, train

        lower_priority(self.nice)  # before the first torch operation, as infantino_site.jobs._train does
        self.niceness, self.torch_threads = niceness(), torch.get_num_threads()
        try:
            result = train(self.config, self.registry, progress=self._progress, should_stop=self.stop.is_set)
            self.outcome = f"finished: version {result.version}"
        except TrainingCancelled:
            self.outcome = f"stopped when asked, after reporting {self.stage}"
        except Exception as error:  # reported in the JSON: a failed training makes the figures meaningless
            self.outcome = f"failed during {self.stage}: {error!r}"


def timed_predictions(
    model: ExpressionModel,
    photos: list[bytes],
    *,
    seconds: float,
    every: float,
    stage: Callable[[], str | None] = lambda: "idle",
) -> list[tuple[float, str]]:
    """(milliseconds, training stage) of one predict every ``every`` s for ``seconds``; ends once ``stage`` is None."""
    from mlcore.imageio import decode_image

    timings = []
    began = time.monotonic()
    for i in range(int(seconds / every)):
        wait = began + i * every - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # spaced as users' uploads come: a slow answer delays the next, never skips it
        now = stage()
        if now is None:
            break
        started = time.perf_counter()
        model.predict(decode_image(photos[i % len(photos)]).image)
        timings.append((1000 * (time.perf_counter() - started), now))
    return timings


def training_config(args: argparse.Namespace, found: DataFolders, work: Path) -> TrainConfig:
    """The server's training ("full" preset, or "tiny") on the shared data, with the options given."""
    from mlcore.training import TrainConfig

    common: dict[str, Any] = {
        "fer_csv": found.fer_csv,
        "image_dir": found.infant_dir,
        "work_dir": work / "run",
        "cache_dir": args.cache_dir or work / "cache",
        "fer_limit": args.fer_limit,
    }
    for name in ("fer_steps", "infant_epochs"):
        if getattr(args, name) is not None:
            common[name] = getattr(args, name)
    return TrainConfig.tiny(**common) if args.preset == "tiny" else TrainConfig(**common)


def load_photos(infant_dir: Path, n: int) -> list[bytes]:
    paths = sorted(p for p in infant_dir.glob("*/*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    random.Random(0).shuffle(paths)
    return [p.read_bytes() for p in paths[:n]]


def during_training(
    model: ExpressionModel, photos: list[bytes], training: Training, args: argparse.Namespace
) -> tuple[list[tuple[float, str]], int]:
    """Start the training, wait for ``--from-stage`` if asked, and time predictions while it runs; most OS threads."""
    seen = [os_threads()]

    def stage() -> str | None:
        seen.append(os_threads())
        return training.stage if training.thread.is_alive() else None

    training.start()
    while args.from_stage and training.thread.is_alive() and args.from_stage not in training.stages:
        time.sleep(0.1)
    timings = timed_predictions(model, photos, seconds=args.seconds, every=args.every, stage=stage)
    return timings, max(seen)


def by_stage(timings: list[tuple[float, str]]) -> dict[str, dict[str, float]]:
    stages: dict[str, list[float]] = {}
    for ms, now in timings:
        stages.setdefault(now, []).append(ms)
    return {name: {"n": len(ms), **summary(ms)} for name, ms in stages.items()}


def compared(idle: list[float], during: list[float]) -> dict[str, Any]:
    """Both sides' figures and the ratios during / idle."""
    if not during:
        return {"idle": {"n": len(idle), **summary(idle)}, "during_training": {"n": 0}}
    quiet, busy = summary(idle), summary(during)
    return {
        "idle": {"n": len(idle), **quiet},
        "during_training": {"n": len(during), **busy},
        "ratio_p50": round(busy["p50_ms"] / quiet["p50_ms"], 3),
        "ratio_p95": round(busy["p95_ms"] / quiet["p95_ms"], 3),
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="predicting while the training runs")
    parser.add_argument("--idle-seconds", type=float, default=None, help="predicting idle first (default: --seconds)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between predictions")
    parser.add_argument("--from-stage", default="", help="start timing once the training reports this stage (fer …)")
    parser.add_argument("--nice", type=int, default=10, help="the training thread's niceness (INFANTINO_TRAIN_NICE)")
    parser.add_argument("--torch-threads", type=int, default=1, help="as INFANTINO_TORCH_THREADS")
    parser.add_argument("--preset", choices=("full", "tiny"), default="full")
    parser.add_argument("--fer-steps", type=int, default=None)
    parser.add_argument("--infant-epochs", type=int, default=None)
    parser.add_argument("--fer-limit", type=int, default=None, help="read only the first N FER2013 rows")
    parser.add_argument("--cache-dir", type=Path, default=None, help="face-crop cache (default: a cold one)")
    parser.add_argument("--photos", type=int, default=40, help="infant photos cycled through by the predictions")
    parser.add_argument("--stop-timeout", type=float, default=600.0, help="seconds to wait for the training to stop")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding infant/ and fer2013/")
    parser.add_argument("--tracking-uri", default=f"sqlite:///{ROOT / 'var' / 'mlflow.db'}")
    parser.add_argument("--artifacts", default=(ROOT / "var" / "mlartifacts").as_uri())
    parser.add_argument("--model-name", default="infantino-expressions")
    parser.add_argument("--version", default=None, help="the version predicting (default: the live one)")
    return parser.parse_args()


def main() -> None:
    args = parse()
    found = data_folders(args.data)
    if found.infant_dir is None:
        sys.exit(f"no infant images under {args.data}: the benchmark trains on the shared data")
    import torch

    from mlcore.imageio import decode_image
    from mlcore.registry import NoModel, Registry

    torch.set_num_threads(args.torch_threads)  # as the server's model loader does, for every thread after
    try:
        model = Registry(args.tracking_uri, artifact_root=args.artifacts, model_name=args.model_name).load(args.version)
    except NoModel as error:
        sys.exit(f"{error} in {args.tracking_uri}: run bootstrap_model first, or give --tracking-uri and --version")
    photos = load_photos(found.infant_dir, args.photos)
    for data in photos[:3]:
        model.predict(decode_image(data).image)  # the first calls pay one-time set-up
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        training = Training(training_config(args, found, Path(tmp)), Path(tmp), nice=args.nice)
        idle = timed_predictions(model, photos, seconds=args.idle_seconds or args.seconds, every=args.every)
        timings, threads_seen = during_training(model, photos, training, args)
        training.stop.set()
        training.thread.join(args.stop_timeout)
        report = {
            "benchmark": "serve_while_training",
            "model_version": model.version,
            "every_s": args.every,
            **compared([ms for ms, _ in idle], [ms for ms, _ in timings]),
            "during_by_stage": by_stage(timings),
            "nice": args.nice,
            "niceness": {"predict": niceness(), "training": training.niceness},
            "torch_threads": {"predict": torch.get_num_threads(), "training": training.torch_threads},
            "os_threads_max": threads_seen,
            "training": {
                "preset": args.preset,
                "fer_steps": training.config.fer_steps,
                "infant_epochs": training.config.infant_epochs,
                "stages_seen": training.stages,
                "outcome": "still running at exit" if training.thread.is_alive() else training.outcome,
            },
            "machine": f"{platform.machine()} cpus={os.cpu_count()}",
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
