"""Real processes for integration and browser tests: the app under daphne, moto's S3, an MLflow server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROFILE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "MLFLOW_TRACKING_URI",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
    "S3_ENDPOINT_URL",
    "SECRET_KEY",
    "INFANTINO_JOB_RUNNER",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_http(url: str, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process serving {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def app_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an app process: the embedded profile in ``var_dir`` unless ``extra`` says more."""
    env = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    env.update(
        {
            "INFANTINO_VAR_DIR": str(var_dir),
            "INFANTINO_MODEL_POLL_SECONDS": "0.5",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DJANGO_SETTINGS_MODULE": "infantino_site.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


@contextmanager
def app_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Migrate, collect static files and serve the app under daphne; yields its base URL."""
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "infantino_site.asgi:application"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/schema/", timeout=90, process=process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=20)


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server on loopback; yields its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=30, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def mlflow_server(root: Path) -> Iterator[str]:
    """An MLflow tracking server (sqlite backend, proxied artifacts) on loopback; yields its URI."""
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with open(root / "mlflow-server.log", "w") as log:
        process = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/health", timeout=120, process=process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=20)


def register_tiny_model(tracking_uri: str, artifacts: str | None, model_name: str = "infantino-expressions") -> str:
    """Register a tiny random model in a store and make it live; returns the version."""
    import torch

    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.registry import Registry
    from tests.conftest import tiny_head

    torch.manual_seed(0)
    registry = Registry(tracking_uri, artifact_root=artifacts, model_name=model_name)
    extractor = build_extractor(ExtractorConfig(image_size=32), imagenet=False).eval()
    version = registry.register(
        head=tiny_head(),
        extractor_id=registry.log_extractor(extractor),
        kind="test",
        metrics={"infant_accuracy": 0.5, "fer_accuracy": 0.5},
    )
    registry.set_live(version, by="tests")
    return version


@contextmanager
def empty_redis_db(url: str) -> Iterator[object]:
    """A Redis client on an emptied database, emptied again afterwards; skips the test when Redis is absent."""
    import pytest
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis is not reachable at {url} ({error})")
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
