"""A real app server (daphne, embedded profile, thread job runner) with a tiny live model and an annotator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.images import jpeg_bytes
from tests.servers import TEMPLATES, app_env, app_server, enter_together, manage, register_tiny_model

ANNOTATOR, PASSWORD = "annie", "labels-are-fun-42"


@dataclass(frozen=True)
class LabelingApp:
    url: str
    var_dir: Path
    base_version: str
    env: dict[str, str]

    def registry(self):  # type: ignore[no-untyped-def]
        from mlcore.registry import Registry

        return Registry(
            f"sqlite:///{self.var_dir / 'mlflow.db'}", artifact_root=(self.var_dir / "mlartifacts").as_uri()
        )

    def annotator(self) -> requests.Session:
        return self.session(ANNOTATOR)

    @staticmethod
    def session(name: str) -> requests.Session:
        """A client signed in (HTTP Basic) as ``name``, an account made with the password ``PASSWORD``."""
        session = requests.Session()
        session.auth = (name, PASSWORD)
        return session

    def upload(self, seed: int) -> str:
        response = requests.post(
            f"{self.url}/api/predictions/",
            timeout=60,
            files={"image": (f"{seed}.jpg", jpeg_bytes(size=64, seed=seed), "image/jpeg")},
            data={"consent": "true"},  # a parent who lets the annotators label it
        )
        response.raise_for_status()
        return response.json()["id"]

    def wait_until_settled(self, annotation_ids: list[int], timeout: float = 180) -> list[dict[str, object]]:
        session, deadline = self.annotator(), time.monotonic() + timeout
        while True:
            found = [session.get(f"{self.url}/api/annotations/{pk}/", timeout=30).json() for pk in annotation_ids]
            if all(a["status"] != "queued" for a in found):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"labels still queued after {timeout} s: {found}")
            time.sleep(0.3)


@dataclass(frozen=True)
class Account:
    name: str
    staff: bool = False
    adjudicator: bool = False


@contextmanager
def labeling_app(var_dir: Path, *, accounts: tuple[Account, ...] = (), **extra_env: str) -> Iterator[LabelingApp]:
    """The app served from ``var_dir`` with the annotator ``ANNOTATOR`` and ``accounts`` (all with the password
    ``PASSWORD``), made by one ``manage.py`` beside the starting server."""
    env = app_env(var_dir, INFANTINO_WARM_START="true", INFANTINO_JOB_RUNNER="thread", **extra_env)
    version = register_tiny_model(f"sqlite:///{var_dir / 'mlflow.db'}", (var_dir / "mlartifacts").as_uri())
    TEMPLATES.prepare(env)  # the database is there before the accounts are made beside the starting server
    everyone = (Account(ANNOTATOR), *accounts)
    with ExitStack() as running:
        (url,) = enter_together(
            running, app_server(env, var_dir / "server.log"), also=(lambda: add_users(env, *everyone),)
        )
        yield LabelingApp(url=url, var_dir=var_dir, base_version=version, env=env)


def add_users(env: dict[str, str], *accounts: Account) -> None:
    """``accounts`` (annotators; staff or adjudicators too where they say so) with the password ``PASSWORD``, made
    by one ``manage.py shell``: each interpreter costs seconds of CPU."""
    lines = [
        "from django.contrib.auth import get_user_model",
        "from accounts.services import adjudicator_grant, annotator_grant",
    ]
    for account in accounts:
        grant = "adjudicator_grant" if account.adjudicator else "annotator_grant"
        lines.append(
            f"{grant}(user=get_user_model().objects.create_user("
            f"{account.name!r}, password={PASSWORD!r}, is_staff={account.staff}))"
        )
    manage(env, "shell", "-c", "\n".join(lines))
