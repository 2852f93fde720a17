"""Websockets: same origin only; the model feed is public (versions only), retrain progress is for staff."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from infantino_site.asgi import application
from modelops.events import broadcast_model_updated

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SAME_ORIGIN = (b"origin", b"http://127.0.0.1")
FOREIGN_ORIGIN = (b"origin", b"http://evil.example")
PATHS = ["/ws/models/", "/ws/training/"]


@sync_to_async
def session_cookie(user) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def connect(path: str, *headers: tuple[bytes, bytes]) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.mark.parametrize("path", PATHS)
async def test_a_foreign_origin_is_refused_even_for_staff(path, admin):
    _, connected, _ = await connect(path, FOREIGN_ORIGIN, await session_cookie(admin))
    assert not connected


@pytest.mark.parametrize("path", PATHS)
async def test_a_socket_without_an_origin_is_refused(path, admin):
    _, connected, _ = await connect(path, await session_cookie(admin))
    assert not connected


async def test_anyone_on_the_site_may_follow_model_versions_which_are_public(model_registry):
    communicator, connected, _ = await connect("/ws/models/", SAME_ORIGIN)
    assert connected

    await sync_to_async(broadcast_model_updated)("42")

    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "model.updated" and message["version"] == "42"
    assert set(message) == {"type", "version"}  # nothing about images or people
    await communicator.disconnect()


async def test_retrain_progress_refuses_anonymous_and_signed_in_non_staff(stranger, annotator):
    for headers in ([SAME_ORIGIN], [SAME_ORIGIN, await session_cookie(stranger)]):
        _, connected, code = await connect("/ws/training/", *headers)
        assert not connected and code == 4403
    _, connected, code = await connect("/ws/training/", SAME_ORIGIN, await session_cookie(annotator))
    assert not connected and code == 4403  # labeling does not make an admin


async def test_retrain_progress_is_open_to_staff_from_the_site(admin):
    communicator, connected, _ = await connect("/ws/training/", SAME_ORIGIN, await session_cookie(admin))
    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize("path", ["/ws/nothing/", "/ws/models/extra/", "/", "/api/predictions/"])
async def test_a_socket_to_an_unknown_path_is_refused_without_an_error_in_the_log(path, caplog):
    caplog.set_level(logging.INFO)

    communicator, connected, code = await connect(path, SAME_ORIGIN)

    assert not connected and code == 4404
    await communicator.wait(timeout=5)  # the application finished cleanly, with no exception to re-raise
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
