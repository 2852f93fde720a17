"""Websockets: model events and a retrain's public progress for every page, the retrain's details for staff."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.sessions import OWNER
from modelops.events import (
    MODEL_EVENTS_GROUP,
    TRAINING_GROUP,
    follow_live_alias,
    owner_groups,
    remember_server_loop,
)
from modelops.models import ModelChange
from modelops.selectors import training_job_current_payload, training_public_current

logger = logging.getLogger(__name__)


class ModelEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        remember_server_loop(asyncio.get_running_loop())
        await self.channel_layer.group_add(MODEL_EVENTS_GROUP, self.channel_name)
        # Also what concerns this person's own uploads alone (a clip's analysis progress): by account and by session.
        self.owner_groups = await sync_to_async(_owner_groups)(self.scope)
        for group in self.owner_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        snapshot = await sync_to_async(training_public_current)()
        if snapshot is not None:  # a page opened mid-retrain shows it at once, not at the next progress event
            await self.send_json({"type": "training.public", "training": snapshot})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(MODEL_EVENTS_GROUP, self.channel_name)
        for group in getattr(self, "owner_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def owner_message(self, event: dict[str, Any]) -> None:
        await self.send_json(event["message"])

    async def training_public(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "training.public", "training": event["training"]})

    async def model_updated(self, event: dict[str, Any]) -> None:
        # Swap this process's model before telling the page, so what the page shows is what it serves.
        try:
            await sync_to_async(follow_live_alias, thread_sensitive=False)()
        except Exception:
            logger.exception("could not swap to model version %s", event.get("version"))
        message = {"type": "model.updated", "version": event["version"]}
        if event.get("reason") in ModelChange.Action.values:  # what moved it (a training, a label…): no names, no ids
            message["reason"] = event["reason"]
        await self.send_json(message)


def _owner_groups(scope: dict[str, Any]) -> list[str]:
    user = scope.get("user")
    session = scope.get("session")
    user_id = user.pk if user is not None and user.is_authenticated else None
    session_key = (session.get(OWNER) or session.session_key or "") if session is not None else ""
    return owner_groups(user_id=user_id, session_key=session_key)


class TrainingConsumer(AsyncJsonWebsocketConsumer):
    """Retrain progress for staff dashboards; anyone else is turned away (4403)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4403)
            return
        remember_server_loop(asyncio.get_running_loop())
        await self.channel_layer.group_add(TRAINING_GROUP, self.channel_name)
        await self.accept()
        snapshot = await sync_to_async(training_job_current_payload)()
        if snapshot is not None:
            await self.send_json({"type": "training.progress", "job": snapshot})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(TRAINING_GROUP, self.channel_name)

    async def training_progress(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "training.progress", "job": event["job"]})
