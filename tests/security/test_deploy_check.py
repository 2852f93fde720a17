"""`manage.py check --deploy` is clean in the production profile with the defaults a real deployment gets."""

from __future__ import annotations

import secrets
import subprocess
import sys

from tests.servers import REPO_ROOT, app_env, free_port


def production_env(tmp_path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = app_env(
        tmp_path,
        DATABASE_URL="postgres://infantino@127.0.0.1:5432/infantino",
        REDIS_URL="redis://127.0.0.1:6379/6",
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",
        S3_BUCKET="infantino-images",
        S3_ACCESS_KEY_ID="key",
        S3_SECRET_ACCESS_KEY="secret",
        S3_REGION="eu-west-1",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="infantino.example.org",
        **extra,
    )
    for name in ("INFANTINO_HTTPS", "INFANTINO_THROTTLE", "DEBUG"):  # the test environment's, not a deployment's
        if name not in extra:
            env.pop(name, None)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_profile_passes_the_deploy_check_with_its_defaults(tmp_path):
    result = check_deploy(production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_would_catch_plain_http_and_debug(tmp_path):
    result = check_deploy(production_env(tmp_path, INFANTINO_HTTPS="false", DEBUG="true"))

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016", "security.W018"):
        assert warning in result.stderr
