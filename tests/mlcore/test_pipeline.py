"""Bulk work: items come back in order, in batches, with loading done ahead on a thread of its own."""

from __future__ import annotations

import threading
import time

import pytest

from mlcore.pipeline import chunked, prefetched


def test_batches_keep_the_order_and_the_last_one_is_shorter() -> None:
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []


def test_prefetched_items_come_back_in_order_loaded_on_another_thread() -> None:
    threads = set()

    def load(item: int) -> int:
        threads.add(threading.get_ident())
        return item * item

    assert list(prefetched(range(50), load, ahead=4)) == [i * i for i in range(50)]
    assert threads and threading.get_ident() not in threads


def test_loading_runs_ahead_while_the_consumer_works() -> None:
    loaded: list[int] = []

    def load(item: int) -> int:
        loaded.append(item)
        return item

    items = prefetched(range(10), load, ahead=3)
    assert next(items) == 0
    time.sleep(0.2)
    assert len(loaded) >= 3  # the next ones were read while this one was being used
    assert list(items) == list(range(1, 10))


def test_a_failed_load_is_raised_at_its_item() -> None:
    def load(item: int) -> int:
        if item == 3:
            raise ValueError("broken photo")
        return item

    seen = []
    with pytest.raises(ValueError, match="broken photo"):
        for item in prefetched(range(10), load):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_a_consumer_that_stops_early_stops_the_loader() -> None:
    before = threading.active_count()
    items = prefetched(range(10_000), lambda item: item, ahead=2)
    assert next(items) == 0
    items.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
