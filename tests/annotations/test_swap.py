from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from modelops.events import MODEL_EVENTS_GROUP
from predictions import ml
from tests.conftest import tiny_head


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_process_swaps_to_the_new_live_version_when_the_event_arrives(settings, live_model, tiny_extractor_id):
    from asgiref.sync import sync_to_async

    from infantino_site.asgi import application

    settings.INFANTINO_MODEL_POLL_SECONDS = 3600  # only the event can make this process notice
    assert (await sync_to_async(ml.backend().served)()).version == live_model
    registry = ml.backend().registry()
    newer = await sync_to_async(registry.register)(head=tiny_head(seed=1), extractor_id=tiny_extractor_id, kind="test")
    await sync_to_async(registry.set_live)(newer)
    communicator = WebsocketCommunicator(application, "/ws/models/", headers=[(b"origin", b"http://localhost")])
    connected, _ = await communicator.connect()
    assert connected

    await get_channel_layer().group_send(MODEL_EVENTS_GROUP, {"type": "model.updated", "version": newer})

    assert await communicator.receive_json_from(timeout=30) == {"type": "model.updated", "version": newer}
    assert (await sync_to_async(ml.backend().served)()).version == newer  # swapped on the event, no poll due
    await communicator.disconnect()
