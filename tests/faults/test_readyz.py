"""/readyz answers 503 naming the part that is down (PostgreSQL, Redis, S3, MLflow) within seconds, and 200 once
every part answers again. The servers are real, on loopback; "down" is a port nothing listens on, or a proxy cut."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from infantino_site import cache as tolerant_cache
from predictions import ml
from tests.servers import (
    POSTGRES,
    REPO_ROOT,
    ServiceProxy,
    app_env,
    empty_redis_db,
    free_port,
    mlflow_server,
    moto_s3,
    port_open,
    register_tiny_model,
    s3_client,
    service_proxy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SECRET = "readyz-fault-test-" + "k3y-" * 10
S3_SECRET = "s3-secret-that-no-answer-may-show"
BUCKET = "infantino-readyz"
PARTS = {"database", "cache", "storage", "mlflow", "model"}
DEADLINE = 5.0  # the checks' own deadline is 3 s


def readyz() -> tuple[int, dict, float]:  # type: ignore[type-arg]
    started = time.monotonic()
    response = Client().get("/readyz")
    return response.status_code, response.json(), time.monotonic() - started


def failing(body: dict) -> set[str]:  # type: ignore[type-arg]
    assert set(body["checks"]) == PARTS
    return {name for name, status in body["checks"].items() if status != "ok"}


# ---- PostgreSQL: a process of its own, started with the DATABASE_URL under test -----------------------------
PROBE = (
    "import json, time, django; django.setup(); from django.test import Client; from predictions import ml; "
    "ml.backend().served(); started = time.monotonic(); r = Client().get('/readyz'); "
    "print(json.dumps({'status': r.status_code, 'body': r.json(), 'took': time.monotonic() - started}))"
)


@pytest.fixture(scope="module")
def var_with_a_model(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """An embedded profile's folder whose MLflow store has a tiny live model."""
    var = tmp_path_factory.mktemp("readyz-var")
    register_tiny_model(f"sqlite:///{var / 'mlflow.db'}", (var / "mlartifacts").as_uri())
    return var


def readyz_in_a_process(var: Path, database_url: str) -> dict:  # type: ignore[type-arg]
    """/readyz asked in a fresh process on ``database_url``, once that process has loaded its model."""
    env = app_env(var, DATABASE_URL=database_url, SECRET_KEY=SECRET)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_readiness_names_the_database_within_seconds_while_postgresql_is_down(var_with_a_model):
    port = free_port()
    answer = readyz_in_a_process(var_with_a_model, f"postgresql://postgres@127.0.0.1:{port}/test")

    assert answer["status"] == 503
    assert answer["body"]["status"] == "unavailable"
    assert failing(answer["body"]) == {"database"}
    assert answer["took"] < DEADLINE, answer  # the pool alone would wait 10 s for a connection
    assert str(port) not in json.dumps(answer["body"])  # where the database lives is for the log, not the answer


def test_readiness_is_200_on_a_postgresql_that_answers(var_with_a_model):
    if not port_open("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    answer = readyz_in_a_process(var_with_a_model, f"{POSTGRES}/test")

    assert answer["status"] == 200, answer
    assert failing(answer["body"]) == set()


# ---- Redis: the cache production's settings make of REDIS_URL --------------------------------------------------
CACHES_PROBE = (
    "import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.CACHES))"
)


@pytest.fixture(scope="module")
def redis_caches(tmp_path_factory) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """What settings.py makes of a REDIS_URL whose port nothing listens on."""
    env = app_env(tmp_path_factory.mktemp("readyz-redis"), REDIS_URL=f"redis://127.0.0.1:{free_port()}/14")
    result = subprocess.run(
        [sys.executable, "-c", CACHES_PROBE],
        cwd=REPO_ROOT,
        env={**env, "SECRET_KEY": SECRET},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_readiness_names_the_cache_while_redis_is_down(settings, redis_caches, live_model):
    settings.CACHES = redis_caches
    tolerant_cache._warnings.forget()

    status, body, took = readyz()

    assert status == 503
    assert failing(body) == {"cache"}
    assert took < DEADLINE


def test_readiness_is_200_on_a_redis_that_answers(settings, redis_caches, live_model):
    url = "redis://127.0.0.1:6379/14"
    with empty_redis_db(url) as redis:
        settings.CACHES = {"default": {**redis_caches["default"], "LOCATION": url}}
        status, body, _ = readyz()
        left = redis.dbsize()  # type: ignore[attr-defined]

    assert status == 200, body
    assert failing(body) == set()
    assert left == 0  # the probe's value is deleted again


# ---- S3 --------------------------------------------------------------------------------------------------------
def s3_storage(settings, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "infantino_site.storage.S3ImageStorage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "access_key": "test",
                "secret_key": S3_SECRET,
                "region_name": "us-east-1",
                "connect_timeout": 1,
                "read_timeout": 2,
                "max_attempts": 2,
            },
        },
    }


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


def test_readiness_names_the_storage_while_s3_is_unreachable_and_shows_no_secret(settings, live_model):
    port = free_port()
    s3_storage(settings, f"http://127.0.0.1:{port}")

    status, body, took = readyz()

    assert status == 503
    assert failing(body) == {"storage"}
    assert took < DEADLINE
    assert S3_SECRET not in json.dumps(body) and str(port) not in json.dumps(body)


def test_readiness_names_the_storage_when_the_bucket_is_missing(settings, s3_endpoint, live_model):
    s3_storage(settings, s3_endpoint)
    settings.STORAGES["default"]["OPTIONS"]["bucket_name"] = "no-such-bucket"

    status, body, _ = readyz()

    assert status == 503
    assert failing(body) == {"storage"}


def test_readiness_is_200_on_an_s3_bucket_that_answers(settings, s3_endpoint, live_model):
    s3_storage(settings, s3_endpoint)

    status, body, _ = readyz()

    assert status == 200, body


# ---- MLflow: a real server behind a proxy the test cuts ----------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_proxy(tmp_path_factory) -> Iterator[tuple[ServiceProxy, str]]:  # type: ignore[no-untyped-def]
    with mlflow_server(tmp_path_factory.mktemp("readyz-mlflow")) as uri, service_proxy(uri) as proxy:
        yield proxy, uri


@pytest.fixture
def served_through_proxy(settings, mlflow_proxy) -> Iterator[ServiceProxy]:  # type: ignore[no-untyped-def]
    """This process serves a tiny model it loaded from MLflow through the proxy."""
    proxy, uri = mlflow_proxy
    settings.INFANTINO_MODEL_NAME = f"readyz-{uuid.uuid4().hex[:8]}"
    settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS = proxy.url, None
    settings.INFANTINO_MODEL_POLL_SECONDS = 3600  # not due to ask about the live alias while the test runs
    ml.reset_backend()
    register_tiny_model(uri, None, settings.INFANTINO_MODEL_NAME)
    ml.backend().served()
    yield proxy
    proxy.stop()
    proxy.start()
    ml.reset_backend()


def test_readiness_names_mlflow_while_it_is_down_and_is_200_again_when_it_is_back(served_through_proxy):
    proxy = served_through_proxy
    before = readyz()
    proxy.stop()
    down = readyz()
    proxy.start()
    back = readyz()

    assert before[0] == 200, before[1]
    assert down[0] == 503
    assert failing(down[1]) == {"mlflow"}  # the model loaded before still serves: only the registry is gone
    assert down[2] < DEADLINE
    assert back[0] == 200, back[1]
