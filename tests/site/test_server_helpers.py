"""The helpers that start the suite's servers: side-by-side starts that clean up after a failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests.servers import enter_together


def test_processes_started_together_are_entered_at_once_and_exited_in_reverse():
    events: list[str] = []
    started = threading.Barrier(3, timeout=10)  # only passes if all three start before any has finished

    @contextmanager
    def process(name: str) -> Iterator[str]:
        started.wait()
        yield name
        events.append(f"stop {name}")

    with ExitStack() as stack:
        entered = enter_together(stack, process("web-1"), process("web-2"), also=(started.wait,))
        assert entered == ["web-1", "web-2"]
        assert events == []
    assert events == ["stop web-2", "stop web-1"]


def test_when_one_fails_to_start_the_others_are_stopped_and_the_failure_is_raised():
    events: list[str] = []

    @contextmanager
    def process(name: str) -> Iterator[str]:
        try:
            yield name
        finally:
            events.append(f"stop {name}")

    @contextmanager
    def broken() -> Iterator[str]:
        raise TimeoutError("did not answer")
        yield "never"

    with pytest.raises(TimeoutError, match="did not answer"), ExitStack() as stack:
        enter_together(stack, process("web"), broken(), process("worker"))
    assert sorted(events) == ["stop web", "stop worker"]


def test_a_failed_call_beside_them_is_raised_too():
    def refuse() -> None:
        raise RuntimeError("no such user table")

    @contextmanager
    def process() -> Iterator[str]:
        yield "web"

    with pytest.raises(RuntimeError, match="no such user table"), ExitStack() as stack:
        enter_together(stack, process(), also=(refuse,))
