"""A Docker image built from this repository never carries local state, secrets, caches or model weights.

``.dockerignore`` is read with Docker's rules (patterns from the context root, ``**`` for any folders, ``!`` to
keep, the last match wins), and paths such a build would meet are checked against it.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.servers import REPO_ROOT


def patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(kept, regex) per line of .dockerignore, in order."""
    found = []
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kept = line.startswith("!")
        found.append((kept, re.compile(translate(line.removeprefix("!").strip("/")))))
    return found


def translate(pattern: str) -> str:
    """Docker's (Go's filepath.Match plus ``**``) as a regex for a path and, as Docker does, everything under it."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return f"{out}(?:/.*)?"


def ignored(path: str) -> bool:
    verdict = False
    for kept, regex in patterns():
        if regex.fullmatch(path):
            verdict = not kept
    return verdict


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        ".env.production",
        "var/infantino.sqlite3",
        "var/media/uploads/0a.jpg",
        "var/secret_key",
        "mlruns/0/meta.yaml",
        "predictions/__pycache__/api.cpython-311.pyc",
        "mlcore/registry/__pycache__/reads.cpython-311.pyc",
        ".pytest_cache/v/cache/lastfailed",
        ".ruff_cache/content",
        ".mypy_cache/3.11/x.json",
        "staticfiles/css/site.css",
        "test-artifacts/trace.zip",
        "weights.pt",
        "bench/out/extractor.pth",
        "var/cache/mtcnn/onet.pt",
        "mlflow.db",
    ],
)
def test_a_build_never_carries(path):
    assert ignored(path), f"{path} would be copied into the image"


@pytest.mark.parametrize(
    "path",
    ["manage.py", ".env.example", "requirements.txt", "infantino_site/settings.py", "static/css/site.css"],
)
def test_a_build_still_carries_what_the_app_runs_on(path):
    assert not ignored(path)


def test_every_file_git_tracks_reaches_the_build_but_git_and_ci_configuration():
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    left_out = [path for path in listed.stdout.splitlines() if ignored(path)]

    assert left_out and all(path == ".gitignore" or path.startswith(".ci/") for path in left_out), left_out
