"""MLflow unreachable: a label is still accepted, waits queued while its job is retried, and is learned once
MLflow is back — with a Celery worker (production) and with the in-process job thread (embedded runner).

The app reaches a real MLflow server through a proxy on loopback; stopping the proxy closes that port.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.images import jpeg_bytes
from tests.servers import (
    ServiceProxy,
    app_server,
    celery_worker,
    create_user,
    enter_together,
    proxied_mlflow,
)

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/11"
USER, PASSWORD = "patient", "labels-wait-for-mlflow-3"
MODEL = "infantino-expressions"


@dataclass
class Services:
    mlflow: str
    proxy: ServiceProxy
    env: dict[str, str]
    root: Path

    def live(self) -> str:
        from mlflow import MlflowClient

        return str(
            MlflowClient(self.mlflow, registry_uri=self.mlflow).get_model_version_by_alias(MODEL, "champion").version
        )


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("mlflow-down")
    with proxied_mlflow(
        root,
        redis_url=REDIS,
        database_prefix="infantino_mlflow_down",
        INFANTINO_WARM_START="true",
        # A refused connection fails at once, and the job's retry comes within 2 s of MLflow's return: the test
        # waited ~10 s on MLflow's client backoff and up to 8 s on the job's before learning anything.
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        INFANTINO_JOB_RETRY_MAX_DELAY="2",
    ) as services:
        yield Services(mlflow=services.mlflow, proxy=services.proxy, env=services.env, root=root)


def user(runner: str) -> requests.Session:
    session = requests.Session()
    session.auth = (f"{USER}-{runner}", PASSWORD)
    return session


@pytest.mark.parametrize("runner", ["celery", "thread"])
def test_a_label_given_while_mlflow_is_down_waits_and_is_learned_when_mlflow_is_back(services, runner):
    env = {**services.env, "INFANTINO_JOB_RUNNER": runner}
    with ExitStack() as running:
        worker = (celery_worker(env, services.root / "worker.log"),) if runner == "celery" else ()
        url, *_ = enter_together(
            running,
            app_server(env, services.root / f"web-{runner}.log"),
            *worker,
            also=(lambda: create_user(env, f"{USER}-{runner}", PASSWORD),),
        )
        log = services.root / ("worker.log" if runner == "celery" else f"web-{runner}.log")
        upload = user(runner).post(
            f"{url}/api/predictions/",
            files={"image": ("baby.jpg", jpeg_bytes(size=64, seed=len(runner)), "image/jpeg")},
            data={"consent": "true"},  # shared for labeling
            timeout=60,
        )
        assert upload.status_code == 201, upload.text
        live_before = services.live()

        services.proxy.stop()
        try:
            answer = user(runner).post(
                f"{url}/api/annotations/", json={"image": upload.json()["id"], "label": "fear"}, timeout=60
            )
            assert answer.status_code == 201, answer.text
            annotation_id = answer.json()["id"]
            deadline = time.monotonic() + 90
            while "retrying in" not in log.read_text(errors="replace"):  # a learning attempt failed and will retry
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                time.sleep(0.5)
            waiting = user(runner).get(f"{url}/api/annotations/{annotation_id}/", timeout=30).json()
        finally:
            services.proxy.start()

        assert waiting["status"] == "queued"
        assert services.live() == live_before
        deadline = time.monotonic() + 120
        while (found := user(runner).get(f"{url}/api/annotations/{annotation_id}/", timeout=30).json())[
            "status"
        ] == "queued":
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)

    assert found["status"] == "learned"
    assert found["parent_version"] == live_before
    assert found["model_version"] == services.live() != live_before
