"""What a new user meets: a fresh clone's `make run`, timed until it serves and until a better model is live.

    .venv/bin/python bench/first_run.py [--venv .venv] [--port 8765] [--timeout-min 20] [--after-seconds 60]

Clones this repository (its committed HEAD) into a temporary folder and runs `make run` there, with the shared
data found beside it as usual. ``--venv`` links an existing virtualenv into the clone (the install is then left
out of the timings, make's check of the requirements too; without it `make run` builds one, a few minutes more).
While it runs, an anonymous client uploads one infant photo every ``--every`` seconds through the REST API, as
users would, and records each answer's latency and the model version that gave it. Prints JSON:

- ``serving_s``: from `make run` to the first page served; ``better_live_s``: to a trained version going live
  (the autotrain the server starts by itself while only the starter is live);
- ``predict_while_training`` and ``predict_after``: latency percentiles of the uploads answered while the starter
  was live (the training running beside them at lower priority) and in the ``--after-seconds`` after, and
  ``p50_ratio`` of the two;
- the live versions seen: kind, when they went live, held-out accuracy and training seconds as recorded.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_DATA, summary  # noqa: E402


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return 0, None


def upload(url: str, photo: bytes) -> tuple[float, dict[str, Any] | None]:
    """One anonymous upload through the REST API: its latency in ms and the answer."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="baby.jpg"\r\n'.encode())
    body.write(b"Content-Type: image/jpeg\r\n\r\n" + photo + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        url, data=body.getvalue(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return (time.perf_counter() - started) * 1000, None
    return (time.perf_counter() - started) * 1000, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, help="an existing virtualenv to link into the clone")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between uploads")
    parser.add_argument("--after-seconds", type=float, default=60.0, help="uploads timed once the better model is live")
    parser.add_argument("--timeout-min", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the clone (its var/ holds the versions)")
    args = parser.parse_args()
    photos = sorted((SHARED_DATA / "infant").glob("*/*.jp*g"))
    if not photos:
        sys.exit(f"no infant photos under {SHARED_DATA / 'infant'}")
    clone = Path(tempfile.mkdtemp(prefix="infantino-first-run-")) / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    if args.venv:
        (clone / ".venv").symlink_to(args.venv.resolve())
        # A virtualenv built after the checkout, as a user's second `make run` finds it: make's check of the
        # requirements is then up to date and no pip runs.
        built = (args.venv / ".runtime").stat().st_mtime
        for requirements in clone.glob("requirements*.txt"):
            os.utime(requirements, (built - 1, built - 1))
    env = {**os.environ, "PORT": str(args.port), "INFANTINO_THROTTLE": "false", "INFANTINO_DATA_DIR": str(SHARED_DATA)}
    log = (clone.parent / "make-run.log").open("w")
    started = time.monotonic()
    server = subprocess.Popen(
        ["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        report = observe(args, photos, started)
        report["clone"] = str(clone) if args.keep else None
        print(json.dumps(report, indent=2), flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # not SIGINT: a shell that starts a job in the background ignores it
        server.wait(timeout=60)


def observe(args: argparse.Namespace, photos: list[Path], started: float) -> dict[str, Any]:
    """Poll until the server answers, then upload until a trained version has been live ``--after-seconds``."""
    base = f"http://127.0.0.1:{args.port}"
    deadline = started + args.timeout_min * 60
    serving_s = better_live_s = None
    while serving_s is None and time.monotonic() < deadline:
        if get_json(f"{base}/healthz")[0] == 200:
            serving_s = time.monotonic() - started
        time.sleep(0.5)
    timings: dict[str, list[float]] = {"bootstrap": [], "retrain": []}
    versions: dict[str, dict[str, Any]] = {}
    i = 0
    while time.monotonic() < deadline:
        status, live = get_json(f"{base}/api/models/live/")
        if status == 200 and live["version"] not in versions:
            versions[live["version"]] = {
                "kind": live["kind"],
                "since_s": round(time.monotonic() - started, 1),
                **{
                    k: round(v, 4) for k, v in live["metrics"].items() if k.startswith(("test_infant_acc", "train_sec"))
                },
            }
            if live["kind"] == "retrain" and better_live_s is None:
                better_live_s = time.monotonic() - started
        if better_live_s is not None and time.monotonic() - started - better_live_s > args.after_seconds:
            break
        ms, answer = upload(f"{base}/api/predictions/", photos[i % len(photos)].read_bytes())
        i += 1
        if answer is not None and answer.get("model_version") in versions:
            timings.setdefault(versions[answer["model_version"]]["kind"], []).append(ms)
        time.sleep(max(0.0, args.every - ms / 1000))
    during, after = timings["bootstrap"], timings["retrain"]
    return {
        "serving_s": round(serving_s, 1) if serving_s is not None else None,
        "better_live_s": round(better_live_s, 1) if better_live_s is not None else None,
        "predict_while_training": {"n": len(during), **summary(during)} if during else None,
        "predict_after": {"n": len(after), **summary(after)} if after else None,
        "p50_ratio": round(summary(during)["p50_ms"] / summary(after)["p50_ms"], 2) if during and after else None,
        "live_versions": versions,
    }


if __name__ == "__main__":
    main()
