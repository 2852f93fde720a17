"""The one broadcast helper for model events, and how a process follows the live alias when told.

Every web process keeps serving while it swaps: ``follow_live_alias`` loads the version the alias
names *now* (not the one an event names, so a late or reordered event cannot swap backwards) and
replaces the process's model reference in one assignment. With Redis, each web process also listens
on the channel layer itself (``listen_for_model_events``), page open or not; a process that hears no
event (Redis down) still follows within ``INFANTINO_MODEL_POLL_SECONDS``, as the backend polls the alias.

The group names live here, below the consumers that join them, so nothing imports the consumers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer

from common.oncely import OncePer
from modelops.selectors import training_public_payload
from predictions.ml import ModelUnavailable, backend

MODEL_EVENTS_GROUP = "model-events"
TRAINING_GROUP = "training-progress"

logger = logging.getLogger(__name__)


_server_loop: asyncio.AbstractEventLoop | None = None
_follow_lock = threading.Lock()
_warnings = OncePer(60.0)  # per group: warn once a minute, not per event


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the consumers: the in-memory channel layer must be fed from the server's own loop."""
    global _server_loop
    _server_loop = loop


def broadcast_model_updated(version: str, **extra: object) -> None:
    """Tell every open page (and every process through its consumers) that ``version`` is live."""
    _group_send(MODEL_EVENTS_GROUP, {"type": "model.updated", "version": version, **extra})


def broadcast_training(job: dict[str, object]) -> None:
    """Stream a retrain's state to the staff dashboards, and its public summary (no metrics or names) to every page."""
    _group_send(TRAINING_GROUP, {"type": "training.progress", "job": job})
    _group_send(MODEL_EVENTS_GROUP, {"type": "training.public", "training": training_public_payload(job)})


def owner_groups(*, user_id: object | None, session_key: str) -> list[str]:
    """The groups of one person's open pages: their account's, and their browser session's (anonymous uploads)."""
    groups = [f"owner-user-{user_id}"] if user_id is not None else []
    if session_key:  # hashed: the key signs a session in, a group name is not a secret
        groups.append(f"owner-session-{hashlib.sha256(session_key.encode()).hexdigest()[:32]}")
    return groups


def broadcast_to_owner(message: dict[str, object], *, user_id: object | None, session_key: str) -> None:
    """Send ``message`` to the pages of the person who uploaded something (by account, else by session) alone."""
    groups = owner_groups(user_id=user_id, session_key=session_key)
    if groups:
        _group_send(groups[0], {"type": "owner.message", "message": message})


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
        # not; pages catch up on reload and processes through polling.
        if _warnings.due(group):
            logger.warning("could not send %s to %s (%s: %s)", event.get("type"), group, type(error).__name__, error)


def follow_live_alias() -> str | None:
    """Make this process serve the version the live alias names now; returns it."""
    model = backend()
    with _follow_lock:
        live = model.live_version()
        if live is None:
            return None
        try:
            serving = model.served().version
        except ModelUnavailable:
            serving = None
        if serving != live:
            model.serve(live)
        return live


# ---- every web process hears model events, page open or not ------------------------------------------------
REJOIN_SECONDS = 3600.0  # channels-redis drops a group member after a day (group_expiry): rejoin well before


def listen_for_model_events() -> None:
    """Follow ``model.updated`` from the channel layer in this process, whether or not a page is open on it.

    Only with a shared layer (Redis): with the in-memory one the writer is this process and swaps it itself.
    """
    if get_channel_layer() is None or isinstance(get_channel_layer(), InMemoryChannelLayer):
        return
    # A layer of its own: channels-redis lets one layer object receive from a single event loop only, and the
    # server's loop receives for the websockets.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    threading.Thread(target=asyncio.run, args=(_listen(layer),), name="infantino-model-events", daemon=True).start()


async def _listen(layer: Any) -> None:
    channel = await layer.new_channel()
    while True:
        try:
            await layer.group_add(MODEL_EVENTS_GROUP, channel)
            rejoin_at = time.monotonic() + REJOIN_SECONDS
            while (left := rejoin_at - time.monotonic()) > 0:
                try:
                    event = await asyncio.wait_for(layer.receive(channel), timeout=left)
                except TimeoutError:
                    break
                if event.get("type") == "model.updated":
                    await asyncio.to_thread(_follow, event.get("version"))
        except Exception as error:
            # Redis is down: this process follows the alias by polling meanwhile; try again in a few seconds.
            if _warnings.due("listen"):
                logger.warning("not hearing model events (%s: %s); polling the live alias", type(error).__name__, error)
            await asyncio.sleep(5)


def _follow(version: object) -> None:
    try:
        follow_live_alias()
    except Exception:
        logger.exception("could not swap to model version %s", version)
