"""A Celery worker killed in the middle of an online update: the live model stays the last committed version,
and the label is learned exactly once — by the job handed back, or by the next worker's sweep.

The worker talks to a real MLflow server through a proxy that stops its request to move the live alias
(before the server sees it, or after it moved the alias); the test SIGKILLs the worker and its pool right then.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.images import jpeg_bytes
from tests.servers import (
    CeleryWorker,
    ServiceProxy,
    app_server,
    create_user,
    enter_together,
    proxied_mlflow,
)

REDIS = "redis://127.0.0.1:6379/12"
USER, PASSWORD = "killjoy", "labels-survive-kill-9"
MODEL = "infantino-expressions"
SET_ALIAS = "/registered-models/alias"


@dataclass
class Stack:
    url: str
    mlflow: str
    proxy: ServiceProxy
    env: dict[str, str]
    root: Path
    base: str

    def client(self):  # type: ignore[no-untyped-def]
        from mlflow import MlflowClient

        return MlflowClient(self.mlflow, registry_uri=self.mlflow)

    def live(self) -> str:
        return str(self.client().get_model_version_by_alias(MODEL, "champion").version)

    def versions(self) -> dict[str, dict[str, str]]:
        found = self.client().search_model_versions(f"name = '{MODEL}'")
        return {str(mv.version): dict(mv.tags) for mv in found}

    def session(self) -> requests.Session:
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        return session

    def label_new_image(self, seed: int, label: str) -> int:
        session = self.session()
        upload = session.post(
            f"{self.url}/api/predictions/",
            files={"image": (f"{seed}.jpg", jpeg_bytes(size=64, seed=seed), "image/jpeg")},
            data={"consent": "true"},  # shared for labeling
            timeout=60,
        )
        assert upload.status_code == 201, upload.text
        answer = session.post(
            f"{self.url}/api/annotations/", json={"image": upload.json()["id"], "label": label}, timeout=30
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def annotation(self, annotation_id: int) -> dict:
        return self.session().get(f"{self.url}/api/annotations/{annotation_id}/", timeout=30).json()

    def wait_settled(self, annotation_id: int, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while (found := self.annotation(annotation_id))["status"] == "queued":
            assert time.monotonic() < deadline, f"annotation {annotation_id} still queued after {timeout} s"
            time.sleep(0.3)
        return found

    def moves_to(self, version: str) -> list[tuple[str, str]]:
        """The audit rows (action, previous version) of every move of the live alias to ``version``."""
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as connection:
            rows = connection.execute(
                "SELECT action, previous_version FROM predictions_modelchange WHERE version = %s", [version]
            )
            return [tuple(row) for row in rows]

    def worker(self, name: str) -> CeleryWorker:
        worker = CeleryWorker(self.env, self.root / f"{name}.log")
        worker.wait_ready()
        return worker


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("worker-killed")
    with proxied_mlflow(root, redis_url=REDIS, database_prefix="infantino_kill") as services, ExitStack() as running:
        (url,) = enter_together(
            running,
            app_server(services.env, root / "web.log"),
            also=(lambda: create_user(services.env, USER, PASSWORD),),
        )
        yield Stack(
            url=url,
            mlflow=services.mlflow,
            proxy=services.proxy,
            env=services.env,
            root=root,
            base=services.base_version,
        )


def lineage(stack: Stack, version: str) -> list[str]:
    """The versions from ``version`` back through their parents."""
    tags, line = stack.versions(), []
    while version:
        line.append(version)
        version = tags[version].get("parent_version", "")
    return line


@pytest.mark.integration
def test_a_worker_killed_before_the_alias_moves_leaves_the_last_version_live_and_the_label_is_learned_once(stack):
    live_before = stack.live()
    held = stack.proxy.hold("POST", SET_ALIAS, after_forwarding=False)
    first = stack.worker("first-worker")
    try:
        annotation_id = stack.label_new_image(seed=11, label="happy")
        assert held.wait(120), first.log()[-3000:]  # the new version is registered; the alias is about to move
    finally:
        first.kill()
        stack.proxy.release()

    orphans = [v for v, tags in stack.versions().items() if tags.get("annotation_ids") == str(annotation_id)]
    assert len(orphans) == 1  # registered before the kill …
    assert stack.live() == live_before  # … but never made live: the last committed version still is
    assert stack.annotation(annotation_id)["status"] == "queued"  # and the label is not lost

    second = stack.worker("second-worker")
    try:
        settled = stack.wait_settled(annotation_id)
    finally:
        second.stop()

    live = stack.live()
    assert settled["status"] == "learned"
    assert settled["model_version"] == live and live != orphans[0]
    assert settled["parent_version"] == live_before
    learned_in = [v for v in lineage(stack, live) if stack.versions()[v].get("annotation_ids") == str(annotation_id)]
    assert learned_in == [live]  # exactly once in the live line


@pytest.mark.integration
def test_a_worker_killed_after_the_alias_moved_is_recorded_by_the_next_worker_not_learned_again(stack):
    held = stack.proxy.hold("POST", SET_ALIAS, after_forwarding=True)
    first = stack.worker("third-worker")
    try:
        annotation_id = stack.label_new_image(seed=12, label="sad")
        assert held.wait(120), first.log()[-3000:]  # MLflow moved the alias; the worker never hears back
    finally:
        first.kill()
        stack.proxy.release()

    made = stack.live()
    assert stack.versions()[made].get("annotation_ids") == str(annotation_id)
    assert stack.annotation(annotation_id)["status"] == "queued"
    # Another label arrives meanwhile; its job is ahead of the re-run, so it is learned on top first.
    later_id = stack.label_new_image(seed=13, label="neutral")
    versions_before = set(stack.versions())

    second = stack.worker("fourth-worker")
    try:
        settled = stack.wait_settled(annotation_id)
        later = stack.wait_settled(later_id)
    finally:
        second.stop()

    assert settled["status"] == "learned" and later["status"] == "learned"
    assert settled["model_version"] == made  # recorded into the version it made …
    assert settled["parent_version"] == stack.versions()[made]["parent_version"]
    assert set(stack.versions()) - versions_before == {later["model_version"]}  # … and not learned a second time
    assert lineage(stack, stack.live())[:2] == [later["model_version"], made]
    # Both moves are in the audit log once: the interrupted one written by the re-run.
    assert stack.moves_to(made) == [("learn", settled["parent_version"])]
    assert stack.moves_to(later["model_version"]) == [("learn", made)]


@pytest.mark.integration
def test_a_pool_process_killed_mid_update_hands_its_job_back_and_the_worker_learns_the_label_once(stack):
    live_before = stack.live()
    held = stack.proxy.hold("POST", SET_ALIAS, after_forwarding=False)
    worker = stack.worker("fifth-worker")
    try:
        annotation_id = stack.label_new_image(seed=14, label="surprise")
        assert held.wait(120), worker.log()[-3000:]
        for pid in worker.pool_pids():  # the process running the update dies; the worker itself lives on
            os.kill(pid, signal.SIGKILL)
        stack.proxy.release()
        settled = stack.wait_settled(annotation_id)  # no new worker, no sweep: the job itself came back
    finally:
        worker.stop()

    assert "exited with 'signal 9 (SIGKILL)'" in worker.log()
    live = stack.live()
    assert settled["status"] == "learned" and settled["model_version"] == live
    assert settled["parent_version"] == live_before
    learned_in = [v for v in lineage(stack, live) if stack.versions()[v].get("annotation_ids") == str(annotation_id)]
    assert learned_in == [live]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_learns_a_label_whose_job_was_lost_and_leaves_a_recent_one_to_its_job(
    settings, live_model, django_user_model
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.learning.sweep import requeue_waiting_labels
    from annotations.models import Annotation
    from predictions.services import prediction_create

    settings.INFANTINO_JOB_RUNNER = "inline"
    image = prediction_create(upload=SimpleUploadedFile("lost.jpg", jpeg_bytes(size=64, seed=21)), consent=True)
    # Stored, but its job died with its worker: nothing will run it.
    lost = Annotation.objects.create(image=image, label="happy", annotator=django_user_model.objects.create_user("x"))

    assert requeue_waiting_labels(older_than=3600) == 0  # waited less than that: its own job may still come
    assert Annotation.objects.get(pk=lost.pk).status == "queued"
    assert requeue_waiting_labels(older_than=0) == 1

    learned = Annotation.objects.get(pk=lost.pk)
    assert learned.status == "learned" and learned.parent_version == live_model
    assert requeue_waiting_labels(older_than=0) == 0
