"""The threads every runtime computes with (torch, OpenMP/MKL, ONNX Runtime, OpenCV), set in one place, and the
foreground: work a person waits for, which background work in the same process steps aside for.

On two cores shared with other work, a runtime that starts a thread per core for every call makes every call crawl
(MTCNN took ~1.7 s instead of ~0.1 s per photo in a web process with a training beside it): each process says once,
through ``configure``, how many threads one computation may use, and every runtime reads it from here.

A lower priority alone does not keep a photo's answer fast while a clip is analysed beside it: with a core each,
neither waits for the other, yet they share the chip's caches (and, on some machines, one physical core). So a
served prediction runs inside ``foreground()``, and long background work calls ``yield_to_foreground()`` between
its steps: it waits there until no served prediction is in flight.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# Read by OpenMP, MKL and OpenBLAS when they start, and by any child process: set for those started after.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Threads:
    intra: int  # threads one computation (a convolution, a graph run) may use
    inter: int  # computations a runtime may run side by side


_current = Threads(intra=1, inter=1)
_lock = threading.Lock()


def configure(intra: int, *, inter: int = 1) -> Threads:
    """Set every runtime's threads for this process; ONNX Runtime sessions made from now on read them too."""
    if intra < 1 or inter < 1:
        raise ValueError(f"thread counts must be 1 or more, not intra={intra}, inter={inter}")
    global _current
    with _lock:
        _current = Threads(intra=intra, inter=inter)
        for name in THREAD_ENV:
            os.environ[name] = str(intra)
        import torch

        torch.set_num_threads(intra)
        if torch.get_num_interop_threads() != inter:
            try:
                torch.set_num_interop_threads(inter)
            except RuntimeError:  # torch allows it once, before its first parallel work
                logger.info("torch keeps %d inter-op threads: set before", torch.get_num_interop_threads())
        _configure_opencv(intra)
    return _current


def current() -> Threads:
    """The thread counts ``configure`` last set (1 and 1 until it is called)."""
    return _current


def for_this_thread(intra: int) -> None:
    """Torch threads of the calling thread alone (a training lane beside a server's request threads)."""
    import torch

    torch.set_num_threads(intra)


def onnx_session_options() -> Any:
    """ONNX Runtime session options with this process's threads, and no spinning (a spinning thread steals a core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _current.intra
    options.inter_op_num_threads = _current.inter
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


_cv2_lock = threading.Lock()


def opencv() -> Any:
    """OpenCV, imported under a lock (two threads importing it at once hand one of them a half-made module)."""
    with _cv2_lock:
        import cv2

        cv2.setNumThreads(_current.intra)
    return cv2


def _configure_opencv(intra: int) -> None:
    try:
        opencv()  # sets its threads to ``_current``'s
    except ImportError:  # the Haar detector is the only user of OpenCV; without it there is nothing to set
        return


class _Foreground:
    """How many predictions a person waits for are in flight in this process."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @contextmanager
    def serving(self) -> Iterator[None]:
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def active(self) -> bool:
        return self._count > 0

    def wait_idle(self, max_wait: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout=max_wait)


_foreground = _Foreground()
FOREGROUND_MAX_WAIT_S = 1.0  # a steady stream of photos slows a clip down; it never stops it


def foreground() -> AbstractContextManager[None]:
    """A context in which this thread serves a prediction a person waits for (background work yields to it)."""
    return _foreground.serving()


def in_foreground() -> bool:
    """Whether a served prediction is in flight in this process."""
    return _foreground.active()


def yield_to_foreground(max_wait: float | None = None) -> bool:
    """Background work's step boundary: wait while a served prediction is in flight, at most ``max_wait`` seconds
    (``FOREGROUND_MAX_WAIT_S``); returns whether the foreground was idle when it returned."""
    return _foreground.wait_idle(FOREGROUND_MAX_WAIT_S if max_wait is None else max_wait)
