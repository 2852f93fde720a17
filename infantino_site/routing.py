from __future__ import annotations

from typing import Any

from django.urls import path, re_path

from modelops.consumers import ModelEventsConsumer, TrainingConsumer

NO_SUCH_SOCKET = 4404


async def refuse_unknown_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Any other path is turned away at the handshake (daphne answers 403), where URLRouter would raise a 500."""
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": NO_SUCH_SOCKET})


websocket_urlpatterns = [
    path("ws/models/", ModelEventsConsumer.as_asgi()),
    path("ws/training/", TrainingConsumer.as_asgi()),
    re_path(r"", refuse_unknown_path),  # last: matches every path
]
