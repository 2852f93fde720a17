"""A .env file sets what the environment does not: at every start (manage.py, the ASGI app, Celery)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from infantino_site.env import env_file_read, load_env_file
from tests.servers import REPO_ROOT, app_env

EXAMPLE = """
# a comment, and a blank line above
SECRET_KEY=plain-value
export EXPORTED=yes
SPACED = around the equals sign
INLINE=value # a comment after the value
HASH=no#comment-without-a-space
SINGLE='kept as $written # here'
DOUBLE="line one\\nline \\"two\\""
DOUBLE_WITH_COMMENT="quoted" # said after the quote
EMPTY=
URL=postgres://user:p%40ss@db.example:5432/infantino?sslmode=require
"""


def test_a_dotenv_file_is_read_with_comments_quotes_and_export(tmp_path):
    path = tmp_path / ".env"
    path.write_text(EXAMPLE)

    assert env_file_read(path) == {
        "SECRET_KEY": "plain-value",
        "EXPORTED": "yes",
        "SPACED": "around the equals sign",
        "INLINE": "value",
        "HASH": "no#comment-without-a-space",
        "SINGLE": "kept as $written # here",
        "DOUBLE": 'line one\nline "two"',
        "DOUBLE_WITH_COMMENT": "quoted",
        "EMPTY": "",
        "URL": "postgres://user:p%40ss@db.example:5432/infantino?sslmode=require",
    }


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("NO_EQUALS_SIGN", "line 1: expected NAME=value"),
        ("1BAD=name", "line 1: expected NAME=value"),
        ('OPEN="never closed', 'line 1 (OPEN): the value opens a " quote and does not close it'),
        ("AFTER='x' y", "line 1 (AFTER): only a comment may follow the closing quote"),
    ],
)
def test_a_malformed_line_stops_the_start_naming_its_line_and_not_its_value(tmp_path, line, says):
    path = tmp_path / ".env"
    path.write_text(line + "\n")

    with pytest.raises(ImproperlyConfigured, match=says.replace("(", r"\(").replace(")", r"\)")):
        env_file_read(path)


def test_the_real_environment_wins_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("INFANTINO_TEST_FROM_FILE=file\nINFANTINO_TEST_ALREADY_SET=file\n")
    monkeypatch.setenv("INFANTINO_TEST_ALREADY_SET", "real")
    monkeypatch.delenv("INFANTINO_TEST_FROM_FILE", raising=False)

    added = load_env_file(path)

    assert added == {"INFANTINO_TEST_FROM_FILE": "file"}
    assert os.environ["INFANTINO_TEST_FROM_FILE"] == "file" and os.environ["INFANTINO_TEST_ALREADY_SET"] == "real"
    monkeypatch.delenv("INFANTINO_TEST_FROM_FILE")


def test_a_named_env_file_that_does_not_exist_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.setenv("INFANTINO_ENV_FILE", str(tmp_path / "missing.env"))

    with pytest.raises(ImproperlyConfigured, match="INFANTINO_ENV_FILE"):
        load_env_file()


PRINT = "from django.conf import settings as s; print(s.INFANTINO_MODEL_NAME, s.INFANTINO_MODEL_POLL_SECONDS)"


def test_manage_py_reads_the_env_file_and_the_real_environment_wins(tmp_path):
    env_file = tmp_path / "infantino.env"
    env_file.write_text('INFANTINO_MODEL_NAME="from-the-file"\nINFANTINO_MODEL_POLL_SECONDS=9\n')
    env = app_env(tmp_path / "var", INFANTINO_ENV_FILE=str(env_file))  # sets INFANTINO_MODEL_POLL_SECONDS=0.5
    env.pop("INFANTINO_MODEL_NAME", None)

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRINT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].split() == ["from-the-file", "0.5"]


def test_the_example_file_reads_as_a_dotenv_so_copying_it_to_dotenv_works():
    example = env_file_read(REPO_ROOT / ".env.example")

    assert example["INFANTINO_DATA_DIR"] == "../shared/data"  # its trailing comment is not part of the value
    assert example["SECRET_KEY"] == "" and example["INFANTINO_THROTTLE_ANON"] == "120/min"


def test_an_empty_value_followed_by_a_comment_is_empty_as_the_example_file_writes_it(tmp_path):
    path = tmp_path / ".env"
    path.write_text("INFANTINO_JOB_RUNNER=                      # thread, celery or inline\nHASH=#kept\n")

    assert env_file_read(path) == {"INFANTINO_JOB_RUNNER": "", "HASH": "#kept"}
