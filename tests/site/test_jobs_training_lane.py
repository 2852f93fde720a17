"""The embedded runner gives retrains a worker thread of their own, at a lower priority: labels never wait on them.

The worker threads run in a process of their own, as in test_jobs.py: threads left running in the test process would
sweep the database of whichever test came next.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from common import jobs
from tests.servers import REPO_ROOT, app_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread is Linux's")

TRAINING_BESIDE_LABELS = textwrap.dedent(
    """
    import json, os, threading
    import django
    django.setup()
    from common import jobs
    jobs.JOBS.clear()  # no database here for the sweep of waiting labels
    seen, started, learned = {}, threading.Event(), threading.Event()
    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    def long_training():
        seen["training_niceness"] = niceness()
        started.set()
        seen["label_learned_meanwhile"] = learned.wait(timeout=15)
        seen["training_done"] = True
    def learn_a_label():
        seen["label_niceness"] = niceness()
        learned.set()
    jobs.enqueue(jobs.register(long_training, queue="training", own_lane=True))
    started.wait(timeout=15)
    jobs.enqueue(jobs.register(learn_a_label))
    jobs.wait_for_idle(timeout=30)
    print(json.dumps({**seen, "process_niceness": os.getpriority(os.PRIO_PROCESS, 0)}))
    """
)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What a long training and a label enqueued while it runs saw, under the thread runner."""
    env = app_env(tmp_path_factory.mktemp("var"), INFANTINO_JOB_RUNNER="thread", INFANTINO_TRAIN_NICE="10")
    result = subprocess.run(
        [sys.executable, "-c", TRAINING_BESIDE_LABELS],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_label_is_learned_while_a_long_training_still_runs(seen):  # type: ignore[no-untyped-def]
    assert seen["label_learned_meanwhile"] is True
    assert seen["training_done"] is True  # waiting for idle waited for the training too


def test_the_training_thread_runs_at_a_lower_priority_than_the_labels(seen):  # type: ignore[no-untyped-def]
    assert seen["training_niceness"] == max(10, seen["process_niceness"])
    assert seen["label_niceness"] == seen["process_niceness"]


def test_a_niceness_the_system_refuses_is_logged_and_the_training_goes_on(monkeypatch, caplog):
    def refused(which: int, who: int, value: int) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "setpriority", refused)
    current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with caplog.at_level(logging.WARNING, logger="common.jobs"):
        jobs.lower_priority(current + 1)

    assert "the training thread keeps its priority: niceness" in caplog.text
