"""Background jobs: one job table the apps register into, and one retry policy, whichever runner runs the job."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from common import jobs
from infantino_site import celery as celery_app
from tests.servers import REPO_ROOT, app_env

ONLINE_LEARNING = [
    "annotations.tasks.learn",
    "annotations.tasks.undo",
    "annotations.tasks.warm_up",
    "annotations.tasks.learn_waiting",
]

calls: list[str] = []


def mlflow_is_down() -> None:
    calls.append("ran")
    raise ConnectionError("MLflow cannot be reached")


@pytest.fixture
def registered(monkeypatch):  # type: ignore[no-untyped-def]
    """``registered(function, **how)`` adds a job to the table for this test alone."""

    def register(function, **how):  # type: ignore[no-untyped-def]
        monkeypatch.setitem(jobs.JOBS, jobs.job_path(function), jobs.Job(function, **how))
        return jobs.job_path(function)

    return register


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    """What the Celery app was asked to queue (nothing reaches a broker)."""
    queued = []
    monkeypatch.setattr(celery_app.app, "send_task", lambda name, args: queued.append((name, args)))
    return queued


@pytest.mark.parametrize("path", ONLINE_LEARNING)
def test_online_learning_jobs_go_to_the_one_online_worker(path):
    assert jobs.queue_for(path) == "online"
    assert celery_app.route_job(jobs.TASK_NAME, [path, {}], {}, {}) == {"queue": "online"}


def test_a_retrain_goes_to_the_training_workers_and_anything_else_to_the_default_queue():
    assert jobs.queue_for("modelops.tasks.run_retrain") == "training"
    assert jobs.queue_for("predictions.tasks.something_else") == "celery"


def test_celery_routes_the_job_task_by_the_job_it_runs():
    route = celery_app.app.amqp.router.route({}, jobs.TASK_NAME, args=["modelops.tasks.run_retrain", {}])
    assert route["queue"].name == "training"


def test_celery_beat_sweeps_the_waiting_labels_every_relearn_interval(settings):
    entry = celery_app.app.conf.beat_schedule["annotations.tasks.learn_waiting"]
    assert entry["task"] == jobs.TASK_NAME
    assert tuple(entry["args"]) == ("annotations.tasks.learn_waiting", {})
    assert entry["schedule"] == settings.INFANTINO_RELEARN_AFTER_SECONDS


def test_with_the_celery_runner_a_job_is_handed_to_the_celery_app(settings, sent):
    settings.INFANTINO_JOB_RUNNER = "celery"
    jobs.enqueue("annotations.tasks.learn", annotation_id=7)
    assert sent == [(jobs.TASK_NAME, ["annotations.tasks.learn", {"annotation_id": 7}])]


def test_a_celery_worker_that_starts_queues_every_waiting_label_again(sent):
    celery_app._run_start_jobs()
    assert sent == [(jobs.TASK_NAME, ["annotations.tasks.learn_waiting", {"older_than": 0}])]


def test_the_retry_delay_doubles_from_two_seconds_up_to_the_cap(settings):
    settings.INFANTINO_JOB_RETRY_MAX_DELAY = 20.0
    assert [jobs.retry_delay(attempt) for attempt in range(5)] == [2.0, 4.0, 8.0, 16.0, 20.0]


def test_a_celery_job_that_keeps_failing_is_retried_by_the_policy_then_given_up(settings, caplog, registered):
    settings.INFANTINO_JOB_MAX_RETRIES = 2
    calls.clear()
    path = registered(mlflow_is_down)
    with caplog.at_level(logging.WARNING, logger="common.jobs"):
        result = celery_app.run_job.apply(args=[path, {}])  # eager: retries run at once

    assert result.failed()
    assert len(calls) == 3
    retries = [r.getMessage().rpartition("; ")[2] for r in caplog.records if "retrying" in r.getMessage()]
    assert retries == ["retrying in 2 s", "retrying in 4 s"]
    assert "failed 3 times; giving up" in caplog.text


THREAD_RUNNER = textwrap.dedent(
    """
    import django
    django.setup()
    from common import jobs
    jobs.JOBS.clear()  # no database here for the sweep of waiting labels
    calls = []
    def mlflow_is_down():
        calls.append("ran")
        raise ConnectionError("MLflow cannot be reached")
    jobs.enqueue(jobs.register(mlflow_is_down))
    jobs.wait_for_idle(timeout=30)
    print(len(calls))
    """
)


def test_the_worker_thread_retries_by_the_same_policy_then_gives_up(tmp_path):
    env = app_env(
        tmp_path,
        INFANTINO_JOB_RUNNER="thread",
        INFANTINO_JOB_MAX_RETRIES="2",
        INFANTINO_JOB_RETRY_MAX_DELAY="0.01",
    )
    result = subprocess.run(
        [sys.executable, "-c", THREAD_RUNNER], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    assert result.stderr.count("retrying in 0 s") == 2
    assert "failed 3 times; giving up" in result.stderr


def test_each_app_registers_its_own_jobs_and_the_runner_names_none():
    assert {path: job.queue for path, job in jobs.JOBS.items()}.items() >= {
        "annotations.tasks.learn": "online",
        "annotations.tasks.unlearn": "online",
        "annotations.tasks.consolidate": "online",
        "annotations.tasks.learn_waiting": "online",
        "modelops.tasks.run_retrain": "training",
        "predictions.tasks.delete_expired": "celery",
        "videos.tasks.analyse": "video",
    }.items()
    assert jobs.worker_start_jobs() == [("annotations.tasks.learn_waiting", {"older_than": 0})]
    source = "".join((REPO_ROOT / name).read_text() for name in ("common/jobs.py", "infantino_site/celery.py"))
    assert not [app for app in ("annotations", "predictions", "modelops", "videos") if f"{app}." in source]


def test_a_job_nobody_registered_is_refused_at_once_and_never_run_by_a_worker(settings, sent):
    settings.INFANTINO_JOB_RUNNER = "celery"
    with pytest.raises(LookupError, match=r"no background job 'os\.system' is registered"):
        jobs.enqueue("os.system", command="true")
    assert sent == []

    result = celery_app.run_job.apply(args=["os.system", {"command": "true"}])  # a message from elsewhere
    assert result.failed() and isinstance(result.result, LookupError)


def test_a_job_that_runs_by_itself_reads_its_interval_when_the_schedule_is_made(settings, registered):
    path = registered(mlflow_is_down, every=lambda: settings.INFANTINO_RELEARN_AFTER_SECONDS * 2)
    settings.INFANTINO_RELEARN_AFTER_SECONDS = 7

    assert jobs.periodic_jobs()[path] == 14.0
    assert jobs.queue_for(path) == "celery"
