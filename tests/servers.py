"""Real processes for integration and browser tests: the app under daphne, Celery workers, moto's S3, an
MLflow server, PostgreSQL databases of their own, and a proxy that takes a server away on cue."""

from __future__ import annotations

import copy
import fcntl
import functools
import http.client
import http.server
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return done


class AppTemplate:
    """One migrated SQLite database and one set of collected static files per test run, made at the first server
    (of any xdist worker, under a file lock): a server in the embedded profile starts from copies of them instead
    of migrating and collecting."""

    DATABASE = "infantino.sqlite3"

    def __init__(self) -> None:
        self.root: Path | None = None  # set by the session fixture in tests/conftest.py
        self.migrated: set[str] = set()  # databases this process migrated or cloned from the migrated template
        self._preparing = threading.Lock()

    def ready(self) -> Path:
        if self.root is None:  # a bench, not pytest (tests/conftest.py sets one per run): a folder of its own
            self.root = Path(tempfile.mkdtemp(prefix="infantino-app-template-"))
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # other threads and xdist workers wait for the one making it
            if not (self.root / "ready").exists():
                env = app_env(self.root)
                manage(env, "migrate", "--noinput")
                manage(env, "collectstatic", "--noinput", "--verbosity", "0")
                with closing(sqlite3.connect(self.root / self.DATABASE)) as database:
                    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy is the whole database
                (self.root / "ready").touch()
        return self.root

    def postgres_clone(self, admin: Any, name: str) -> None:
        """Create database ``name`` as a copy of this run's migrated PostgreSQL template (migrated at the first
        call of any xdist worker), so that an app on it starts without migrating: a few seconds per server."""
        template = f"infantino_template_{run_id()}"
        root = self.ready()
        with open(root / "postgres.lock", "w") as lock:
            # Held while cloning too: PostgreSQL refuses to copy a template another session is using.
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (root / "postgres-ready").exists():
                admin.execute(f"DROP DATABASE IF EXISTS {template}")
                admin.execute(f"CREATE DATABASE {template}")
                env = app_env(
                    root / "postgres",
                    DATABASE_URL=f"{POSTGRES}/{template}",
                    SECRET_KEY="migrated-template-test-secret-key-not-for-production-0123456789",
                )
                manage(env, "migrate", "--noinput")
                (root / "postgres-ready").touch()
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        self.migrated.add(f"{POSTGRES}/{name}")

    def prepare(self, env: dict[str, str]) -> None:
        """Give an app its static files and, in the embedded profile, its database; a database already there (a
        restart) or on PostgreSQL is migrated as it is, unless it is a clone of the migrated template. Servers
        that start side by side on one folder prepare it one at a time."""
        var_dir = Path(env["INFANTINO_VAR_DIR"])
        var_dir.mkdir(parents=True, exist_ok=True)
        with self._preparing:
            database = env.get("DATABASE_URL") or str(var_dir / self.DATABASE)
            if database in self.migrated:
                pass  # a second server on it, or a restart: this run's code has migrated it already
            elif env.get("DATABASE_URL") or (var_dir / self.DATABASE).exists():
                manage(env, "migrate", "--noinput")
            else:
                shutil.copyfile(self.ready() / self.DATABASE, var_dir / self.DATABASE)
            self.migrated.add(database)
            if not (var_dir / "static").exists():
                (var_dir / "static").symlink_to(self.ready() / "static", target_is_directory=True)


TEMPLATES = AppTemplate()


@contextmanager
def app_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Serve the app under daphne, its database migrated and static files collected (``TEMPLATES``); yields its URL."""
    TEMPLATES.prepare(env)
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
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()  # not left behind to hold a port and memory for the rest of the run
                process.wait(timeout=10)
                raise AssertionError(f"daphne did not stop within 20 s of SIGTERM (see {log_path})") from None


def enter_together(
    stack: ExitStack, *managers: AbstractContextManager[Any], also: tuple[Callable[[], object], ...] = ()
) -> list[Any]:
    """Enter ``managers`` side by side, each in a thread, and run the ``also`` calls beside them: processes that
    start at once wait for each other's imports and readiness polls, not in turn. ``stack`` exits them."""
    with ThreadPoolExecutor(len(managers) + len(also)) as pool:
        entering = [pool.submit(manager.__enter__) for manager in managers]
        calls = [pool.submit(call) for call in also]
    entered, failure = [], None
    for manager, future in zip(managers, entering, strict=True):
        try:
            entered.append(future.result())
        except BaseException as error:  # pytest's skip too: re-raised once every started process is in the stack
            failure = failure or error
            continue
        stack.push(manager)
    for future in calls:
        if future.exception() is not None:
            failure = failure or future.exception()
    if failure is not None:
        raise failure
    return entered


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
def mlflow_server(
    root: Path, *, backend_store_uri: str | None = None, artifacts_destination: str | None = None, **env_extra: str
) -> Iterator[str]:
    """An MLflow tracking server with proxied artifacts on loopback; yields its URI.

    By default its store is SQLite and its artifacts a folder in ``root``; production's is PostgreSQL
    (``postgresql+psycopg://…``) and S3 (``s3://bucket/prefix``, with ``MLFLOW_S3_ENDPOINT_URL`` and
    ``AWS_*`` in ``env_extra``).
    """
    port = free_port()
    # Without MLflow's job runner: five Huey consumer processes per server, ~15 s of CPU at each start, for
    # GenAI jobs nothing here runs.
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **env_extra}
    with open(root / "mlflow-server.log", "w") as log:
        process = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                backend_store_uri or f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                artifacts_destination or str(root / "artifacts"),
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


@functools.cache
def _tiny_extractor():  # type: ignore[no-untyped-def]
    """Built once per process (2 s each time otherwise); every caller logs a copy of its own."""
    import torch

    from mlcore.extractor import ExtractorConfig, build_extractor

    torch.manual_seed(0)
    return build_extractor(ExtractorConfig(image_size=32), imagenet=False).eval()


def register_tiny_model(
    tracking_uri: str, artifacts: str | None, model_name: str = "infantino-expressions", *, scored: float = 0.5
) -> str:
    """Register a tiny random model in a store and make it live, recorded as scoring ``scored``; returns the version."""
    from mlcore.registry import Registry
    from tests.conftest import tiny_head

    registry = Registry(tracking_uri, artifact_root=artifacts, model_name=model_name)
    version = registry.register(
        head=tiny_head(),
        extractor_id=registry.log_extractor(copy.deepcopy(_tiny_extractor())),
        kind="test",
        metrics={"infant_accuracy": scored, "fer_accuracy": scored},
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


def run_id() -> str:
    """This test run's id: made by the first process that asks (pytest's main process), inherited by its workers."""
    return os.environ.setdefault("INFANTINO_TEST_RUN", uuid.uuid4().hex[:8])


def drop_postgres_template() -> None:
    """Drop this run's migrated template, if it made one (at the end of the run, in pytest's main process)."""
    run = os.environ.get("INFANTINO_TEST_RUN")
    if run is None:
        return
    with suppress(ImportError, OSError), closing(_postgres_admin()) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS infantino_template_{run} WITH (FORCE)")


def _postgres_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(f"{POSTGRES}/test", autocommit=True, connect_timeout=3)


@contextmanager
def postgres_database(prefix: str = "infantino_it", *, migrated: bool = False) -> Iterator[str]:
    """A PostgreSQL database of the caller's own on this machine's server, dropped afterwards; skips when absent.
    ``migrated``: the app's tables are already there (a copy of the run's migrated template)."""
    import pytest

    psycopg = pytest.importorskip("psycopg")
    try:
        admin = _postgres_admin()
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({error})")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if migrated:
        TEMPLATES.postgres_clone(admin, name)
    else:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def create_user(env: dict[str, str], username: str, password: str, *, staff: bool = False) -> None:
    """An account that may upload and label (it holds the annotation permissions the annotator role grants)."""
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; from django.contrib.auth.models import Permission; "
        f"user = get_user_model().objects.create_user({username!r}, password={password!r}, is_staff={staff!r}); "
        "user.user_permissions.add(*Permission.objects.filter(content_type__app_label='annotations', "
        "codename__in=['add_annotation', 'view_annotation', 'delete_annotation']))",
    )


class CeleryWorker:
    """A real ``celery worker`` in a session of its own, so that ``kill`` takes its pool processes with it."""

    def __init__(self, env: dict[str, str], log_path: Path, *, queues: str = "online", concurrency: int = 1) -> None:
        self.log_path = log_path
        self._log = open(log_path, "a")  # noqa: SIM115 (closed in stop/kill)
        self.process = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "infantino_site",
                "worker",
                "-Q",
                queues,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"celery worker not ready after {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def pool_pids(self) -> list[int]:
        """The pool's processes (children of the main worker process)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path, **options: object) -> Iterator[CeleryWorker]:
    worker = CeleryWorker(env, log_path, **options)  # type: ignore[arg-type]
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


class ServiceProxy:
    """An HTTP reverse proxy on loopback in front of a real server, for fault tests.

    ``stop()`` closes its port and every open connection (the service is down for its clients);
    ``start()`` opens the same port again. ``hold(method, path)`` stops the next such request — before
    it reaches the server (it then never does), or after, keeping its answer — until ``release()``, so
    a test can kill a client at that exact point of its conversation with the server.
    """

    def __init__(self, target: str) -> None:
        self.target = target.removeprefix("http://").rstrip("/")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: http.server.ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._hold: tuple[str, str, bool] | None = None
        self._claimed = False  # the request being held has arrived
        self.held = threading.Event()
        self._released = threading.Event()

    def start(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._connections.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._connections.discard(self.connection)
                super().finish()

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self._body()
                holding = proxy._matches(self.command, self.path)
                if holding is False:
                    proxy.held.set()
                    proxy._wait_for_release()
                    self.close_connection = True
                    return  # its client was killed meanwhile: the request never reaches the server
                upstream = http.client.HTTPConnection(proxy.target, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "transfer-encoding"}}
                headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                upstream.close()
                if holding:
                    proxy.held.set()  # only now: the server has done what the request asked
                    proxy._wait_for_release()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in {"transfer-encoding", "content-length", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed client's answer goes nowhere
                    super().handle_error(request, client_address)  # type: ignore[arg-type]

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="service-proxy", daemon=True).start()

    def stop(self) -> None:
        """Close the port and cut every open connection."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            for connection in list(self._connections):
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def hold(self, method: str, path_part: str, *, after_forwarding: bool) -> threading.Event:
        """Stop the next ``method`` request to a path containing ``path_part``; the event is set once it is held:
        as it arrives, or once the server has answered it (``after_forwarding``)."""
        self.held.clear()
        self._released.clear()
        self._claimed = False
        self._hold = (method, path_part, after_forwarding)
        return self.held

    def release(self) -> None:
        self._hold = None
        self._released.set()

    def _matches(self, method: str, path: str) -> bool | None:
        """None: pass it on; otherwise hold it (False: before forwarding, True: after). Only the first match."""
        with self._lock:
            if self._hold is None or self._claimed or method != self._hold[0] or self._hold[1] not in path:
                return None
            self._claimed = True
            return self._hold[2]

    def _wait_for_release(self) -> None:
        self._released.wait(timeout=300)


@contextmanager
def service_proxy(target: str) -> Iterator[ServiceProxy]:
    proxy = ServiceProxy(target)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.release()
        proxy.stop()


@dataclass(frozen=True)
class ProxiedMlflow:
    env: dict[str, str]  # an app process's environment: PostgreSQL, Redis, MLflow through the proxy
    mlflow: str  # the MLflow server itself, for the test's own reads
    proxy: ServiceProxy  # what the app talks to: the test holds or cuts its requests there
    base_version: str  # the tiny model live at the start


@contextmanager
def proxied_mlflow(root: Path, *, redis_url: str, database_prefix: str, **extra: str) -> Iterator[ProxiedMlflow]:
    """PostgreSQL, Redis (emptied) and an MLflow server the app reaches through a proxy, with a tiny live model;
    the forgetting guard is off, so every update of that random model goes live."""
    with empty_redis_db(redis_url), ExitStack() as stack:
        database, mlflow = enter_together(stack, postgres_database(database_prefix, migrated=True), mlflow_server(root))
        proxy = stack.enter_context(service_proxy(mlflow))
        base = register_tiny_model(mlflow, None)
        env = app_env(
            root / "var",
            DATABASE_URL=database,
            REDIS_URL=redis_url,
            MLFLOW_TRACKING_URI=proxy.url,
            SECRET_KEY="proxied-mlflow-test-secret-key-not-for-production-0123456789",
            INFANTINO_FORGETTING_GUARD="false",
            **extra,
        )
        yield ProxiedMlflow(env=env, mlflow=mlflow, proxy=proxy, base_version=base)


S3_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


@dataclass
class ProductionStack:
    """The production profile on loopback: N web processes, one online-learning worker and their services."""

    web: list[str]
    env: dict[str, str]
    mlflow: str
    s3: str
    bucket: str
    database: str
    base_version: str
    worker: CeleryWorker
    root: Path


def production_env(
    var_dir: Path, *, database: str, redis_url: str, mlflow: str, s3: str, bucket: str, **extra: str
) -> dict[str, str]:
    """The environment of an app process in the production profile, over services on loopback."""
    return app_env(
        var_dir,
        DATABASE_URL=database,
        REDIS_URL=redis_url,
        MLFLOW_TRACKING_URI=mlflow,
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=s3,
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        S3_REGION="us-east-1",
        SECRET_KEY="production-profile-test-secret-key-not-for-production-0123456789",
        **extra,
    )


@contextmanager
def production_stack(
    root: Path,
    *,
    redis_url: str,
    web_processes: int = 2,
    web_env: list[dict[str, str]] | None = None,
    user: tuple[str, str] | None = None,
    **env_extra: str,
) -> Iterator[ProductionStack]:
    """PostgreSQL (a database of its own), Redis (``redis_url``, emptied), moto's S3, an MLflow server on a
    PostgreSQL store with S3 artifacts, ``web_processes`` daphne processes (``web_env[i]`` added to the i-th
    one's environment) and a Celery worker on the ``online`` queue with concurrency 1."""
    bucket, artifacts = "infantino-images", "infantino-mlflow"
    with ExitStack() as stack:
        stack.enter_context(empty_redis_db(redis_url))
        database, mlflow_store, s3 = enter_together(
            stack, postgres_database("infantino_app", migrated=True), postgres_database("infantino_mlflow"), moto_s3()
        )
        for name in (bucket, artifacts):
            s3_client(s3).create_bucket(Bucket=name)
        mlflow = stack.enter_context(
            mlflow_server(
                root,
                backend_store_uri=mlflow_store.replace("postgresql://", "postgresql+psycopg://", 1),
                artifacts_destination=f"s3://{artifacts}/mlflow",
                MLFLOW_S3_ENDPOINT_URL=s3,
                **S3_KEYS,
            )
        )
        base = register_tiny_model(mlflow, None)
        env = production_env(
            root / "var",
            database=database,
            redis_url=redis_url,
            mlflow=mlflow,
            s3=s3,
            bucket=bucket,
            INFANTINO_WARM_START="true",
            **env_extra,
        )
        servers = [
            app_server({**env, **(web_env[i] if web_env and i < len(web_env) else {})}, root / f"web-{i + 1}.log")
            for i in range(web_processes)
        ]
        *web, worker = enter_together(
            stack,
            *servers,
            celery_worker(env, root / "worker.log"),
            also=(lambda: create_user(env, *user),) if user is not None else (),
        )
        yield ProductionStack(
            web=web,
            env=env,
            mlflow=mlflow,
            s3=s3,
            bucket=bucket,
            database=database,
            base_version=base,
            worker=worker,
            root=root,
        )
