"""A real server in the embedded profile with a tiny live model, and a headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mlcore.tiny_data import fer_csv, image_folder
from tests.servers import TEMPLATES, app_env, app_server, enter_together, manage, register_tiny_model

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


STAFF_USER, STAFF_PASSWORD = "admin", "e2e-admin-password"


@dataclass(frozen=True)
class RunningApp:
    url: str
    var_dir: Path
    env: dict[str, str]
    version: str
    staff_user: str = STAFF_USER
    staff_password: str = STAFF_PASSWORD

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.var_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts(self) -> str:
        return (self.var_dir / "mlartifacts").as_uri()


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    var_dir = tmp_path_factory.mktemp("app-var")
    data = var_dir / "data"  # tiny training data, so a retrain from the dashboard takes seconds
    image_folder(data / "infant", per_label=4)
    (data / "fer2013").mkdir()
    fer_csv(data / "fer2013" / "fer2013.csv", per_label=6)
    env = app_env(
        var_dir, INFANTINO_WARM_START="true", INFANTINO_DATA_DIR=str(data), DJANGO_SUPERUSER_PASSWORD=STAFF_PASSWORD
    )
    version = register_tiny_model(f"sqlite:///{var_dir / 'mlflow.db'}", (var_dir / "mlartifacts").as_uri())
    with serving_with_staff(env, var_dir) as url:
        yield RunningApp(url=url, var_dir=var_dir, env=env, version=version)


@contextmanager
def serving_with_staff(env: dict[str, str], var_dir: Path) -> Iterator[str]:
    """The app served from ``var_dir``, its staff account made beside the starting server; yields its URL."""
    TEMPLATES.prepare(env)  # the database is there before the staff account is made
    with ExitStack() as running:
        (url,) = enter_together(
            running,
            app_server(env, var_dir / "server.log"),
            also=(lambda: manage(env, "createsuperuser", "--noinput", "--username", STAFF_USER, "--email", "a@b.org"),),
        )
        yield url


def sign_in(page, app: RunningApp) -> None:  # type: ignore[no-untyped-def]
    page.goto(app.url + "/accounts/login/")
    page.fill("input[name=username]", app.staff_user)
    page.fill("input[name=password]", app.staff_password)
    page.click("button[type=submit]")
    page.wait_for_url(app.url + "/")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium for one module. Not for the session: Playwright's sync API holds an event loop running
    in the main thread until it stops, and every later test in that xdist worker that touched the database was
    refused as "called from an async context"."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium): browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots and other browser-test artefacts (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
