"""Websocket pushing model events (a new live version) to open pages."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

MODEL_EVENTS_GROUP = "model-events"


class ModelEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add(MODEL_EVENTS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(MODEL_EVENTS_GROUP, self.channel_name)

    async def model_updated(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "model.updated", "version": event["version"]})
