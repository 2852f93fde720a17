"""Every environment variable InfantinO reads, defined once: its type, default and meaning.

``settings.py`` reads them from here (``value``; those that become a setting of the same name as they are, through
``plain_settings``), and ``docs/deploy.md``'s tables and ``.env.example`` are written from here:
``python -m infantino_site.variables --write`` (``--check`` fails when either has drifted; so does a test).
A new variable is one line in its section below.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infantino_site import env

Kind = Literal["str", "int", "float", "bool", "list", "rate", "secret"]
Default = str | int | float | bool | list[str] | None


@dataclass(frozen=True)
class Variable:
    """One environment variable; ``setting``: settings holds its value, under its own name, as read."""

    name: str
    kind: Kind
    default: Default
    meaning: str
    minimum: int | None = None
    shown: str | None = None  # the default as the docs say it, where settings works it out
    example: str | None = None  # the value .env.example gives, where it is not the default
    commented: bool = False  # .env.example leaves it commented out: unset is the right choice for most
    setting: bool = True

    def read(self, default: Default = None) -> Any:
        """The value the environment gives, parsed strictly; ``default`` replaces the defined one (settings' own)."""
        fallback = self.default if default is None else default
        return _READERS[self.kind](self, fallback)


@dataclass(frozen=True)
class Section:
    title: str
    note: str  # a line under the title, in both files
    variables: tuple[Variable, ...]


def _str(name: str, default: str | None, meaning: str, **more: Any) -> Variable:
    return Variable(name, "str", default, meaning, **more)


def _int(name: str, default: int, meaning: str, **more: Any) -> Variable:
    return Variable(name, "int", default, meaning, **more)


def _float(name: str, default: float, meaning: str, **more: Any) -> Variable:
    return Variable(name, "float", default, meaning, **more)


def _bool(name: str, default: bool | None, meaning: str, **more: Any) -> Variable:
    return Variable(name, "bool", default, meaning, **more)


def _list(name: str, default: list[str], meaning: str, **more: Any) -> Variable:
    return Variable(name, "list", default, meaning, **more)


def _rate(name: str, default: str, meaning: str, **more: Any) -> Variable:
    return Variable(name, "rate", default, meaning, **more)


_READERS: dict[Kind, Callable[[Variable, Any], Any]] = {
    "str": lambda v, default: env.env_str(v.name, default),
    "int": lambda v, default: env.env_int(v.name, default, minimum=v.minimum),
    "float": lambda v, default: env.env_float(v.name, default),
    "bool": lambda v, default: env.env_bool(v.name, default),
    "list": lambda v, default: env.env_list(v.name, list(default)),
    "rate": lambda v, default: env.env_rate(v.name, default),
    "secret": lambda v, default: env.env_str(v.name, default),  # settings checks it with env.env_secret
}

_NOT_SETTINGS = {"setting": False}

# fmt: off
SECTIONS: tuple[Section, ...] = (
    Section("The site", "Always optional.", (
        _bool("DEBUG", False, "Django's debug pages; never on a server others reach"),
        _str("LOG_LEVEL", "INFO", "the level of the root logger"),
        _list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"], "host names the web processes answer to"),
        _list("CSRF_TRUSTED_ORIGINS", [], "origins trusted for form posts, e.g. `https://infantino.example`"),
        _int("PORT", 8000, "the port `make run` serves on (read by the Makefile)", **_NOT_SETTINGS),
        _str("INFANTINO_ENV_FILE", None, "read this file instead of `.env` (it must exist; `/dev/null` reads none)",
             example="/etc/infantino.env", commented=True, **_NOT_SETTINGS),
        _str("INFANTINO_VAR_DIR", None, "embedded database, media, MLflow store, caches, beat schedule",
             shown="`./var`", example="./var", **_NOT_SETTINGS),
        _str("INFANTINO_DATA_DIR", None, "training data: `fer2013/*.csv[.gz]`, `infant/<label>/*`",
             shown="`../shared/data` when present", example="../shared/data", **_NOT_SETTINGS),
        _str("INFANTINO_MTCNN_DIR", None, "MTCNN face-detector weights (`python -m mlcore.mtcnn` unpacks them; "
             "without them faces are found with Haar); read by `mlcore.mtcnn`",
             shown="`var/cache/mtcnn` in the project", example="./var/cache/mtcnn", commented=True, **_NOT_SETTINGS),
        _str("INFANTINO_FACERES_DIR", None, "the faceres backbone's files (read by `mlcore.backbones.faceres`)",
             shown="`var/cache/faceres` in the project", example="./var/cache/faceres", commented=True,
             **_NOT_SETTINGS),
    )),
    Section("HTTPS, sessions and throttling", "Always optional; HTTPS turns itself on with any production part.", (
        _bool("INFANTINO_HTTPS", None, "SSL redirect, secure cookies, HSTS; `false` only for plain http on loopback",
              shown="true when a production part is set", example="true", commented=True, **_NOT_SETTINGS),
        _bool("INFANTINO_BEHIND_PROXY", None, "trust `X-Forwarded-Proto` from the proxy", shown="as `INFANTINO_HTTPS`",
              example="true", commented=True, **_NOT_SETTINGS),
        _int("INFANTINO_NUM_PROXIES", 0, "proxies in front of the app: `X-Forwarded-For` is read this many hops deep",
             **_NOT_SETTINGS),
        _int("INFANTINO_HSTS_SECONDS", 31_536_000, "HSTS max-age, once HTTPS is on", **_NOT_SETTINGS),
        _bool("INFANTINO_HSTS_PRELOAD", False, "ask browsers to preload HTTPS for the whole domain; opt in only after "
              "reading https://hstspreload.org", **_NOT_SETTINGS),
        _int("INFANTINO_SESSION_DAYS", 14, "how long a browser (and an anonymous uploader's photos) stays signed in",
             **_NOT_SETTINGS),
        _bool("INFANTINO_THROTTLE", True, "429 past the rates below (per client address or account); `false`: no "
              "limits"),
        _rate("INFANTINO_THROTTLE_ANON", "120/min", "every API call, anonymous clients (rates: `N/s`, `N/min`, "
              "`N/hour`, `N/day` or `off`)", **_NOT_SETTINGS),
        _rate("INFANTINO_THROTTLE_USER", "600/min", "every API call, signed-in clients", **_NOT_SETTINGS),
        _rate("INFANTINO_THROTTLE_UPLOADS", "20/min", "photo uploads (API and upload page)", **_NOT_SETTINGS),
        _rate("INFANTINO_THROTTLE_LABELS", "120/min", "labels", **_NOT_SETTINGS),
        _bool("INFANTINO_LOGIN_THROTTLE", None, "refuse password guessing (sign-in form, admin, HTTP Basic)",
              shown="as `INFANTINO_THROTTLE`", example="true", **_NOT_SETTINGS),
        _int("INFANTINO_LOGIN_FAILURES_PER_ACCOUNT", 10, "wrong passwords per account in a window, then sign-ins are "
             "refused unchecked until it ends", minimum=1),
        _int("INFANTINO_LOGIN_FAILURES_PER_CLIENT", 5, "the same per client address (any account): lower, so one "
             "client cannot lock an owner out", minimum=1),
        _int("INFANTINO_LOGIN_WINDOW_SECONDS", 900, "from the first failure; the lockout ends when it passes "
             "(`manage.py login_unlock USERNAME --client ADDRESS` or the user list in `/admin/` lifts it)", minimum=1),
    )),
    Section("Uploads", "Always optional.", (
        _int("INFANTINO_MAX_UPLOAD_MB", 15, "the largest photo accepted, in MB", **_NOT_SETTINGS),
        _int("INFANTINO_MAX_PIXELS", 40_000_000, "the most pixels a photo may decode to"),
        _int("INFANTINO_RETENTION_DAYS", 30, "a photo its parent did not share and nobody labeled is deleted this many "
             "days after its upload (the hourly job `predictions.tasks.delete_expired`)", minimum=1),
        _int("INFANTINO_VIDEO_MAX_MB", 200, "the largest clip accepted, in MB", minimum=1, **_NOT_SETTINGS),
        _int("INFANTINO_VIDEO_MAX_MINUTES", 10, "the longest clip accepted, in minutes", minimum=1, **_NOT_SETTINGS),
        _int("INFANTINO_VIDEO_FPS", 4, "frames of a clip analysed per second when the upload names no rate (1–10)",
             minimum=1),
    )),
    Section("The model", "Always optional.", (
        _str("INFANTINO_MODEL_NAME", "infantino-expressions", "the registered model"),
        _float("INFANTINO_MODEL_POLL_SECONDS", 2.0, "how often a process checks the live alias"),
        _bool("INFANTINO_WARM_START", True, "load the model (and the learning stack) when a process starts"),
        _int("INFANTINO_TORCH_THREADS", 1, "threads of every runtime a process serves with: torch, ONNX Runtime, "
             "OpenMP, OpenCV (more makes concurrent requests crawl)"),
        _str("INFANTINO_ML_BACKEND", "predictions.ml.mlflow_backend.MLflowBackend", "the one door to `mlcore`, by "
             "dotted path; tests name `tests.fake_backend.FakeBackend`"),
        _bool("INFANTINO_AUTOTRAIN", True, "while only the starter model is live, a server start trains the full one "
              "once"),
        _int("INFANTINO_TRAIN_THREADS", 2, "torch threads of the training alone; the server keeps "
             "`INFANTINO_TORCH_THREADS`"),
        _int("INFANTINO_TRAIN_NICE", 10, "niceness of the embedded runner's training thread (Linux); `0`: as the "
             "server"),
        _int("INFANTINO_RETRAIN_STALE_SECONDS", 900, "a retrain whose progress has not moved this long is taken for "
             "dead"),
    )),
    Section("Labeling and online learning", "Always optional.", (
        _int("INFANTINO_LABELS_PER_IMAGE", 1, "labels an image needs (strict majority) before it is learned",
             minimum=1),
        _float("INFANTINO_CORRECTION_STRENGTH", 300.0, "how many labels' worth the trained head's own answers on its "
               "replay pool count for when online learning refits it (bench/ONLINE_UPDATE.md)"),
        _bool("INFANTINO_FORGETTING_GUARD", True, "keep a version that forgets off live"),
        _float("INFANTINO_FORGETTING_TOLERANCE", 0.02, "the largest FER2013 accuracy drop below the anchor (infant "
               "photos: a paired test)"),
        _int("INFANTINO_CONSOLIDATE_EVERY", 25, "settled images between refits of the live head on every label plus "
             "replay; `0`: only from the dashboard", minimum=0),
        _int("INFANTINO_RETRAIN_EVERY", 100, "images labeled to consensus between full retrains that start by "
             "themselves (any retrain resets the count), so labels reach the extractor; `0`: only from the dashboard",
             minimum=0),
    )),
    Section("Background jobs", "Always optional.", (
        _str("INFANTINO_JOB_RUNNER", None, "`thread`, `celery` or `inline` (tests)",
             shown="`celery` with `REDIS_URL`, else `thread`", example="", **_NOT_SETTINGS),
        _int("INFANTINO_JOB_MAX_RETRIES", 12, "retries of a failed job (MLflow or S3 unreachable), 2, 4, 8 … s apart"),
        _float("INFANTINO_JOB_RETRY_MAX_DELAY", 300.0, "the longest wait between two retries, seconds"),
        _int("INFANTINO_RELEARN_AFTER_SECONDS", 120, "a label still queued this long is queued again by the sweep, "
             "which runs this often"),
    )),
    Section("Secret key", "Required as soon as any production part below is set: 50+ random characters (a weak key "
            "is refused).", (
        Variable("SECRET_KEY", "secret", None, "signs sessions and password resets", shown="a generated file in "
                 "`var/` (embedded only)", example="", setting=False),
    )),
    Section("PostgreSQL", "Production part: switched on by `DATABASE_URL`.", (
        _str("DATABASE_URL", None, "the app's database, e.g. `postgres://user:password@host:5432/infantino`",
             shown="SQLite in `var/`", example="postgres://user:password@db.example:5432/infantino", **_NOT_SETTINGS),
        _int("DATABASE_POOL_SIZE", 10, "PostgreSQL connections per process (a pool its request threads share)",
             commented=True, **_NOT_SETTINGS),
        _float("DATABASE_POOL_TIMEOUT_SECONDS", 10.0, "how long a request waits for a pooled connection",
               commented=True, **_NOT_SETTINGS),
    )),
    Section("Redis", "Production part: the channel layer, cache, sessions and the Celery broker (queues: online, "
            "training, video, celery).", (
        _str("REDIS_URL", None, "e.g. `redis://host:6379/0`; also makes `celery` the job runner",
             shown="in-memory channel layer, local cache, thread runner", example="redis://127.0.0.1:6379/0",
             **_NOT_SETTINGS),
        _float("REDIS_CACHE_TIMEOUT_SECONDS", 1.0, "the cache's read timeout (a slow Redis must not stall requests)",
               **_NOT_SETTINGS),
        _int("CELERY_VISIBILITY_TIMEOUT", 7200, "Redis hands a job held by a vanished worker to another after this "
             "many seconds: longer than the longest retrain (read by `infantino_site.celery`)", **_NOT_SETTINGS),
    )),
    Section("S3 image storage", "Production part: a private bucket, presigned URLs; the first four together.", (
        _str("S3_BUCKET", None, "the bucket", shown="local folder `var/media`", example="", **_NOT_SETTINGS),
        _str("S3_ACCESS_KEY_ID", None, "access key", example="", **_NOT_SETTINGS),
        _str("S3_SECRET_ACCESS_KEY", None, "secret key", example="", **_NOT_SETTINGS),
        _str("S3_REGION", None, "region", example="us-east-1", **_NOT_SETTINGS),
        _str("S3_ENDPOINT_URL", None, "MinIO or any S3 server", shown="AWS", example="", **_NOT_SETTINGS),
        _int("S3_URL_EXPIRE_SECONDS", 300, "presigned URL lifetime", **_NOT_SETTINGS),
        _float("S3_CONNECT_TIMEOUT_SECONDS", 3.0, "so an S3 outage answers 503 quickly", **_NOT_SETTINGS),
        _float("S3_READ_TIMEOUT_SECONDS", 10.0, "as above, for reads", **_NOT_SETTINGS),
        _int("S3_MAX_ATTEMPTS", 3, "tries of one S3 call", **_NOT_SETTINGS),
    )),
    Section("MLflow", "Production part: a tracking server (PostgreSQL backend, S3 artifacts on the server's side).", (
        _str("MLFLOW_TRACKING_URI", None, "e.g. `http://mlflow:5000`", shown="SQLite store in `var/`",
             example="http://mlflow.internal:5000", **_NOT_SETTINGS),
        _int("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 2, "MLflow's client retries (its own default, 7, waits ~4 min); "
             "the default is set by `mlcore.registry`", commented=True, **_NOT_SETTINGS),
        _int("MLFLOW_HTTP_REQUEST_TIMEOUT", 30, "MLflow's client timeout, seconds (set by `mlcore.registry`)",
             commented=True, **_NOT_SETTINGS),
    )),
    Section("The MLflow server process only", "Not the app: the server writes the artifacts itself.", (
        _str("AWS_ACCESS_KEY_ID", None, "the MLflow server's S3 access key", commented=True, **_NOT_SETTINGS),
        _str("AWS_SECRET_ACCESS_KEY", None, "its secret key", commented=True, **_NOT_SETTINGS),
        _str("AWS_DEFAULT_REGION", None, "its region", example="us-east-1", commented=True, **_NOT_SETTINGS),
        _str("MLFLOW_S3_ENDPOINT_URL", None, "MinIO or any non-AWS S3", commented=True, **_NOT_SETTINGS),
    )),
    Section("docs/docker-compose.yml only", "Passwords of the services it starts.", (
        _str("POSTGRES_PASSWORD", None, "PostgreSQL's password", commented=True, **_NOT_SETTINGS),
        _str("MINIO_ROOT_PASSWORD", None, "MinIO's password", commented=True, **_NOT_SETTINGS),
    )),
)
# fmt: on

VARIABLES: dict[str, Variable] = {variable.name: variable for section in SECTIONS for variable in section.variables}


def value(name: str, default: Default = None) -> Any:
    """Variable ``name``'s value; ``default`` stands in for one settings works out (e.g. from another variable)."""
    return VARIABLES[name].read(default)


def plain_settings() -> dict[str, Any]:
    """The settings that are a variable as read, by name (settings.py takes them all at once)."""
    return {variable.name: variable.read() for variable in VARIABLES.values() if variable.setting}


# ---- the two files written from here ------------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
BEGIN = "<!-- variables: written by `python -m infantino_site.variables --write` from infantino_site/variables.py -->"
END = "<!-- end of variables -->"
EXAMPLE_HEADER = """\
# InfantinO runs with none of these set (the embedded profile). Each production part switches on
# when its variables are set, and then needs all of them; settings name any that is missing.
# Copied to .env (repository root), the values are read at every start (manage.py, the ASGI app, Celery)
# for the variables the environment does not already set: the real environment wins. KEY=value, # comments,
# 'single' or "double" quotes, export KEY=value.
# Written by `python -m infantino_site.variables --write` from infantino_site/variables.py: edit it there.
"""


def shown_default(variable: Variable) -> str:
    """The default as the docs write it."""
    if variable.shown is not None:
        return variable.shown
    if variable.default is None or variable.default == []:
        return "—"
    return f"`{_plain(variable.default)}`"


def _plain(default: Default) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, list):
        return ",".join(default)
    return "" if default is None else str(default)


def env_example() -> str:
    """``.env.example``: every variable with an example value and its meaning, section by section."""
    lines = [EXAMPLE_HEADER.rstrip("\n")]
    for section in SECTIONS:
        lines += ["", f"# {section.title}. {section.note}"]
        for variable in section.variables:
            example = variable.example if variable.example is not None else _plain(variable.default)
            line = f"{'# ' if variable.commented else ''}{variable.name}={example}"
            lines.append(f"{line.ljust(42)} # {variable.meaning.replace('`', '')}")
    return "\n".join(lines) + "\n"


def deploy_tables() -> str:
    """The tables of ``docs/deploy.md``'s Environment section, between its two markers."""
    lines = [BEGIN]
    for section in SECTIONS:
        lines += ["", f"### {section.title}", "", section.note, "", "| variable | default | meaning |"]
        lines.append("| --- | --- | --- |")
        lines += [f"| `{v.name}` | {shown_default(v)} | {v.meaning} |" for v in section.variables]
    return "\n".join([*lines, "", END])


def deploy_doc(text: str) -> str:
    """``text`` (docs/deploy.md) with the block between the markers written again."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{DEPLOY_DOC} has no block between {BEGIN!r} and {END!r}")
    return pattern.sub(lambda _: deploy_tables(), text, count=1)


def drifted() -> list[Path]:
    """The written files that no longer say what this module defines."""
    stale = [] if ENV_EXAMPLE.exists() and ENV_EXAMPLE.read_text() == env_example() else [ENV_EXAMPLE]
    text = DEPLOY_DOC.read_text()
    return stale + ([] if deploy_doc(text) == text else [DEPLOY_DOC])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write .env.example and docs/deploy.md's tables")
    parser.add_argument("--check", action="store_true", help="exit 1 when either file has drifted")
    args = parser.parse_args(argv)
    if args.write:
        ENV_EXAMPLE.write_text(env_example())
        DEPLOY_DOC.write_text(deploy_doc(DEPLOY_DOC.read_text()))
        return 0
    stale = drifted()
    for path in stale:
        print(f"{path.relative_to(REPO_ROOT)} has drifted: run python -m infantino_site.variables --write")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
