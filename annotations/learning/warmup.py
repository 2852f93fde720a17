"""Online learning's one-time costs (MLflow's logging stack, the live head, its reference data), paid early."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from common.jobs import enqueue
from predictions import ml

logger = logging.getLogger(__name__)

_warm = threading.Event()
_warm_lock = threading.Lock()
_requested = threading.Event()


def warm_up() -> None:
    """Load everything the first label would otherwise wait for; once per process."""
    with _warm_lock:  # a worker warms up as it starts and when a web process asks: once is enough
        if _warm.is_set():
            return
        started = time.monotonic()
        try:
            ml.backend().warm_up()
        except Exception as error:  # MLflow down: the first label loads the model instead
            logger.warning("could not preload the live model for online learning (%s: %s)", type(error).__name__, error)
        _warm.set()
        logger.info("online learning warmed up in %.1f s", time.monotonic() - started)


def request_warm_up() -> None:
    """Ask the job runner (the single writer) to warm up, once per process."""
    if _requested.is_set() or _warm.is_set():
        return
    _requested.set()
    if settings.INFANTINO_JOB_RUNNER == "inline":
        return  # nothing runs in the background; the first label pays instead
    enqueue("annotations.tasks.warm_up")
