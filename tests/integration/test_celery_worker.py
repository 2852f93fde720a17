"""Production's background jobs: a retrain queued by the web side runs on a real Celery worker."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from contextlib import closing

import pytest

from tests.mlcore.tiny_data import fer_csv, image_folder
from tests.servers import BIN, REPO_ROOT, TEMPLATES, app_env, empty_redis_db, manage, register_tiny_model

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/13"

START = """
from django.contrib.auth import get_user_model
from modelops.services import retrain
admin = get_user_model().objects.create_user("admin", is_staff=True)
print(retrain.retrain_start(user=admin, options={"preset": "tiny"}).pk)
"""


def job_status(var) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The retrain's status and version, read from the embedded profile's database file: polling through a
    ``manage.py shell`` cost a fresh interpreter (3 s of CPU) every 2 s while the worker trained."""
    with closing(sqlite3.connect(var / "infantino.sqlite3", timeout=30)) as database:
        status, version = database.execute("SELECT status, result_version FROM predictions_trainingjob").fetchone()
    return status, version


@pytest.fixture
def redis_broker():  # type: ignore[no-untyped-def]
    with empty_redis_db(REDIS):
        yield REDIS


def test_a_retrain_started_on_the_web_side_runs_on_a_celery_worker(tmp_path, redis_broker):
    var, data = tmp_path / "var", tmp_path / "data"
    image_folder(data / "infant", per_label=4)
    (data / "fer2013").mkdir(parents=True)
    fer_csv(data / "fer2013" / "fer2013.csv", per_label=6)
    env = app_env(var, REDIS_URL=redis_broker, SECRET_KEY="celery-test-" * 5, INFANTINO_DATA_DIR=str(data))
    live = register_tiny_model(f"sqlite:///{var / 'mlflow.db'}", (var / "mlartifacts").as_uri())
    TEMPLATES.prepare(env)  # a copy of the run's migrated database
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "infantino_site",
                "worker",
                "-Q",
                "training",
                "--pool",
                "solo",
                "--loglevel",
                "info",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            manage(env, "shell", "-c", START)
            deadline, status = time.monotonic() + 180, ("", "")
            while time.monotonic() < deadline:
                status = job_status(var)
                if status[0] in {"succeeded", "failed", "cancelled"}:
                    break
                time.sleep(1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    assert status[0] == "succeeded", (tmp_path / "worker.log").read_text()[-3000:]
    assert int(status[1]) > int(live)
    assert "infantino.run_job" in (tmp_path / "worker.log").read_text()
