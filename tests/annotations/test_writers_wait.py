"""SQLite in the embedded profile: a request that writes while a background learn job holds the write lock waits
its turn (busy timeout, WAL, ``BEGIN IMMEDIATE``) instead of failing with "database is locked"."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from annotations.models import Annotation
from common import jobs
from tests.annotations.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = ("BEGIN", "INSERT", "UPDATE", "DELETE")
JOB_THREAD = "infantino-jobs"  # the thread runner's worker for every job but retrains


def is_write(sql: str) -> bool:
    return sql.lstrip().upper().startswith(WRITES)


def test_a_label_posted_while_a_learn_job_writes_waits_for_it_and_neither_fails(
    settings, fake_backend, alice, shared_photos, caplog
):
    settings.INFANTINO_JOB_RUNNER = "thread"
    first, second = shared_photos(2)
    job_writing, request_writing = threading.Event(), threading.Event()
    job_connections: list[Any] = []

    def hold_the_jobs_transaction(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if context["connection"].in_atomic_block and is_write(sql) and not job_writing.is_set():
            job_writing.set()  # the job's transaction holds SQLite's write lock from here to its commit
            request_writing.wait(timeout=30)
        return result

    def watch_the_job(sender: Any, connection: Any, **kwargs: Any) -> None:
        watched = hold_the_jobs_transaction in connection.execute_wrappers
        if threading.current_thread().name == JOB_THREAD and not watched:
            connection.execute_wrappers.append(hold_the_jobs_transaction)
            job_connections.append(connection)

    def note_the_requests_write(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if is_write(sql):
            request_writing.set()  # from here the request waits on the lock the job holds
        return execute(sql, params, many, context)

    connection_created.connect(watch_the_job)
    try:
        with caplog.at_level(logging.WARNING):
            api = client_for(alice)
            assert api.post("/api/annotations/", {"image": first, "label": "happy"}, format="json").status_code == 201
            assert job_writing.wait(timeout=30), "the learn job never wrote inside a transaction"
            with connection.execute_wrapper(note_the_requests_write):
                response = api.post("/api/annotations/", {"image": second, "label": "sad"}, format="json")
            jobs.wait_for_idle(timeout=60)
    finally:
        connection_created.disconnect(watch_the_job)
        request_writing.set()
        for job_connection in job_connections:
            job_connection.execute_wrappers.remove(hold_the_jobs_transaction)

    assert request_writing.is_set() and response.status_code == 201, response.content
    assert sorted(Annotation.objects.values_list("status", flat=True)) == ["learned", "learned"]
    assert not [r.getMessage() for r in caplog.records if "locked" in r.getMessage() or r.name == jobs.__name__]
