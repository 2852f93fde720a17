"""Bulk work in batches, with the reading and decoding of the next items on one thread while this one computes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), read as they are needed."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def prefetched(items: Iterable[T], load: Callable[[T], U], *, ahead: int = 16) -> Iterator[U]:
    """``load(item)`` for each item, in order, run on a background thread at most ``ahead`` items before the
    consumer (decoding releases the interpreter lock: the other core decodes while this one detects and embeds).

    An exception from ``load`` is raised here, at that item; a consumer that stops early stops the thread.
    """
    results: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                results.put((load(item), None))
        except BaseException as error:  # handed to the consumer, who raises it where the item was wanted
            results.put((None, error))
            return
        results.put((_DONE, None))

    worker = threading.Thread(target=produce, name="infantino-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            value, error = results.get()
            if error is not None:
                raise error
            if value is _DONE:
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                results.get_nowait()
            except queue.Empty:
                worker.join(0.05)
