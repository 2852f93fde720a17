"""Profiles are chosen by the environment alone, and a production part set halfway stops the start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.servers import REPO_ROOT, app_env

PROBE = "import django; django.setup(); from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'])"


def start(tmp_path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=app_env(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_embedded_profile_needs_no_configuration(tmp_path):
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
    assert (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"S3_BUCKET": "images"}, "S3_ACCESS_KEY_ID"),
        ({"S3_BUCKET": "images", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s"}, "S3_REGION"),
        ({"S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, "S3_BUCKET"),
        ({"DATABASE_URL": "postgres://u@127.0.0.1/db"}, "SECRET_KEY"),
        ({"INFANTINO_MAX_UPLOAD_MB": "lots"}, "INFANTINO_MAX_UPLOAD_MB"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"INFANTINO_JOB_RUNNER": "celery"}, "REDIS_URL"),
    ],
)
def test_a_halfway_configuration_fails_at_start_naming_the_missing_variable(tmp_path, variables, named):
    result = start(tmp_path, **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_database_url_switches_to_postgresql(tmp_path):
    result = start(tmp_path, DATABASE_URL="postgres://u@127.0.0.1/db", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"
