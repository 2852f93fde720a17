"""The one broadcast helper for model events, and how a process follows the live alias when told.

Every web process keeps serving while it swaps: ``follow_live_alias`` loads the version the alias
names *now* (not the one an event names, so a late or reordered event cannot swap backwards) and
replaces the process's model reference in one assignment. Processes that hear no event (no open
websocket) still follow within ``INFANTINO_MODEL_POLL_SECONDS`` through ``LiveModel.current()``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from predictions import ml
from predictions.consumers import MODEL_EVENTS_GROUP, TRAINING_GROUP

logger = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 60.0

_server_loop: asyncio.AbstractEventLoop | None = None
_follow_lock = threading.Lock()
_warned_at: dict[str, float] = {}


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the consumer: the in-memory channel layer must be fed from the server's own loop."""
    global _server_loop
    _server_loop = loop


def broadcast_model_updated(version: str, **extra: object) -> None:
    """Tell every open page (and every process through its consumers) that ``version`` is live."""
    _group_send(MODEL_EVENTS_GROUP, {"type": "model.updated", "version": version, **extra})


def broadcast_training(job: dict[str, object]) -> None:
    """Stream a retrain's state (see ``services.training_job_payload``) to the staff dashboards."""
    _group_send(TRAINING_GROUP, {"type": "training.progress", "job": job})


def _group_send(group: str, event: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    try:
        running_here = asyncio.get_running_loop()
    except RuntimeError:
        running_here = None
    try:
        if loop is not None and loop.is_running() and loop is not running_here:
            # asyncio queues are not thread-safe: hand the send to the loop the consumers wait on.
            asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop).result(timeout=5)
        else:
            async_to_sync(layer.group_send)(group, event)
    except Exception as error:
        # Redis (the production channel layer) is down or slow: the event is lost, the work that sent it is
        # not; pages catch up on reload and processes through polling. Warn once a minute, not per event.
        now = time.monotonic()
        if now - _warned_at.get(group, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:
            _warned_at[group] = now
            logger.warning("could not send %s to %s (%s: %s)", event.get("type"), group, type(error).__name__, error)


def follow_live_alias() -> str | None:
    """Make this process serve the version the live alias names now; returns it."""
    with _follow_lock:
        live = ml.live_version()
        if live is None:
            return None
        try:
            serving = ml.live_model.current().version
        except ml.ModelUnavailable:
            serving = None
        if serving != live:
            ml.live_model.swap_to(live)
        return live
