"""The retrain progress websocket streams each broadcast to the staff dashboards.

Who may open it (staff only, same origin only) is tests/security/test_websockets.py's.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from infantino_site.asgi import application
from modelops.events import broadcast_training

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@sync_to_async
def staff_session_cookie(django_user_model) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(django_user_model.objects.create_user("staff", password="a-long-password", is_staff=True))
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def test_staff_receive_each_progress_event_as_it_is_broadcast(django_user_model):
    headers = [(b"origin", b"http://127.0.0.1"), await staff_session_cookie(django_user_model)]
    communicator = WebsocketCommunicator(application, "/ws/training/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected

    events = [
        {"id": 7, "status": "running", "progress": {"stage": "fer", "step": step, "total": 10, "fraction": step / 10}}
        for step in (3, 4)
    ]
    for event in events:
        await sync_to_async(broadcast_training)(event)

    for event in events:
        assert await communicator.receive_json_from(timeout=5) == {"type": "training.progress", "job": event}
    await communicator.disconnect()
