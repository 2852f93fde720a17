"""The retrain progress websocket: staff only, same origin only."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from infantino_site.asgi import application
from predictions.events import broadcast_training

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = (b"origin", b"http://127.0.0.1")


@sync_to_async
def session_cookie(*, staff: bool) -> tuple[bytes, bytes]:
    user = get_user_model().objects.create_user(f"user-{staff}", password="a-long-password", is_staff=staff)
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def connect(*headers: tuple[bytes, bytes]) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, "/ws/training/", headers=list(headers))
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def test_staff_receive_progress_events():
    communicator, connected, _ = await connect(ORIGIN, await session_cookie(staff=True))
    assert connected

    event = {"id": 7, "status": "running", "progress": {"stage": "fer", "step": 3, "total": 10, "fraction": 0.3}}
    await sync_to_async(broadcast_training)(event)

    assert await communicator.receive_json_from(timeout=5) == {"type": "training.progress", "job": event}
    await communicator.disconnect()


async def test_anonymous_users_are_refused():
    _communicator, connected, code = await connect(ORIGIN)
    assert not connected
    assert code == 4403


async def test_signed_in_users_who_are_not_staff_are_refused():
    _communicator, connected, code = await connect(ORIGIN, await session_cookie(staff=False))
    assert not connected
    assert code == 4403


async def test_a_foreign_origin_is_refused_even_for_staff():
    _communicator, connected, _ = await connect((b"origin", b"http://evil.example"), await session_cookie(staff=True))
    assert not connected
