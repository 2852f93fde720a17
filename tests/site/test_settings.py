"""Profiles are chosen by the environment alone, and a production part set halfway stops the start."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.servers import REPO_ROOT, app_env

PROBE = "import django; django.setup(); from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'])"


def start(tmp_path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=app_env(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=180,
    )


def read_settings(tmp_path, **variables: str) -> ModuleType:
    """The settings module as a process started with ``variables`` would read it, read here in a fresh copy: every
    check below is made as the module is read, before Django starts (``start`` shows a real start)."""
    spec = importlib.util.spec_from_file_location("probed_settings", REPO_ROOT / "infantino_site" / "settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, app_env(tmp_path, **variables), clear=True):
        spec.loader.exec_module(module)
    return module


def refusal(tmp_path, **variables: str) -> str:
    """The message a start with ``variables`` stops with."""
    with pytest.raises(ImproperlyConfigured) as refused:
        read_settings(tmp_path, **variables)
    return str(refused.value)


def test_the_embedded_profile_needs_no_configuration(tmp_path):
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
    assert (tmp_path / "secret_key").exists()


def test_reading_the_settings_writes_nothing(tmp_path):
    var_dir = tmp_path / "var"
    result = subprocess.run(
        [sys.executable, "-c", "import infantino_site.settings"],
        cwd=REPO_ROOT,
        env=app_env(var_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert not var_dir.exists()


KEY_PROBE = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"


def test_the_embedded_profile_makes_its_folder_and_a_private_key_at_start_and_keeps_the_key(tmp_path):
    var_dir = tmp_path / "fresh" / "var"
    keys = [
        subprocess.run(
            [sys.executable, "-c", KEY_PROBE], cwd=REPO_ROOT, env=app_env(var_dir), capture_output=True, text=True
        ).stdout.strip()
        for _ in range(2)
    ]

    assert var_dir.is_dir()
    assert len(keys[0]) >= 50
    assert keys[1] == keys[0]  # sessions survive a restart
    assert (var_dir / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"S3_BUCKET": "images"}, "S3_ACCESS_KEY_ID"),
        ({"S3_BUCKET": "images", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s"}, "S3_REGION"),
        ({"S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, "S3_BUCKET"),
        ({"DATABASE_URL": "postgres://u@127.0.0.1/db"}, "SECRET_KEY"),
        ({"INFANTINO_MAX_UPLOAD_MB": "lots"}, "INFANTINO_MAX_UPLOAD_MB"),
        ({"INFANTINO_FORGETTING_TOLERANCE": "a little"}, "INFANTINO_FORGETTING_TOLERANCE"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"INFANTINO_JOB_RUNNER": "celery"}, "REDIS_URL"),
        ({"INFANTINO_THROTTLE_UPLOADS": "lots/min"}, "INFANTINO_THROTTLE_UPLOADS"),
        ({"INFANTINO_HTTPS": "sometimes"}, "INFANTINO_HTTPS"),
    ],
)
def test_a_halfway_configuration_fails_at_start_naming_the_missing_variable(tmp_path, variables, named):
    assert named in refusal(tmp_path, **variables)


STRONG_KEY = "k7-Qz9rVw2pXn4sLm8tYc1bHd6fJg3aUe5oIi0vRy7wTq2nZx8mPl"


@pytest.mark.parametrize(
    "part",
    [
        {"DATABASE_URL": "postgres://u@127.0.0.1/db"},
        {"REDIS_URL": "redis://127.0.0.1:6379/7"},
        {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"},
        {"S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s", "S3_REGION": "us-east-1"},
    ],
    ids=["postgres", "redis", "mlflow", "s3"],
)
def test_no_production_part_starts_without_its_own_secret_key(tmp_path, part):
    assert "SECRET_KEY must be set" in refusal(tmp_path, **part)
    assert not (tmp_path / "secret_key").exists()  # the embedded profile's generated key is never used


@pytest.mark.parametrize(
    "key",
    ["too-short-key", "x" * 60, "django-insecure-" + STRONG_KEY],
    ids=["short", "one repeated character", "django's insecure default"],
)
def test_a_weak_secret_key_is_refused_in_any_profile(tmp_path, key):
    for variables in ({}, {"DATABASE_URL": "postgres://u@127.0.0.1/db"}):
        assert "SECRET_KEY is too weak" in refusal(tmp_path, SECRET_KEY=key, **variables)


def test_database_url_switches_to_postgresql(tmp_path):
    probed = read_settings(tmp_path, DATABASE_URL="postgres://u@127.0.0.1/db", SECRET_KEY=STRONG_KEY)
    assert probed.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_the_embedded_profiles_sqlite_writers_wait_for_each_other(tmp_path):
    options = read_settings(tmp_path).DATABASES["default"]["OPTIONS"]
    assert "journal_mode=WAL" in options["init_command"]
    assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] >= 5


def test_processes_starting_together_on_a_new_folder_all_read_the_one_whole_key(tmp_path, monkeypatch):
    import secrets
    import threading
    import time

    from infantino_site.apps import kept_secret_key

    token = secrets.token_urlsafe

    def slow_token(size: int) -> str:  # the moment a losing process used to read the winner's empty file
        time.sleep(0.05)
        return token(size)

    monkeypatch.setattr(secrets, "token_urlsafe", slow_token)
    path, keys = tmp_path / "secret_key", []
    starting = threading.Barrier(6)

    def start() -> None:
        starting.wait()
        keys.append(kept_secret_key(path))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 6 and len(set(keys)) == 1 and len(keys[0]) >= 50
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no private copy left behind
