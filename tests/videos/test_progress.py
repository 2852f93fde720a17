"""A clip's analysis is heard on its uploader's pages (the /ws/models/ socket every page holds), and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from infantino_site.asgi import application
from tests.videos.clips import faces_clip
from videos import services

SAME_ORIGIN = (b"origin", b"http://127.0.0.1")


async def socket(cookie: str | None = None) -> WebsocketCommunicator:
    headers = [SAME_ORIGIN] + ([(b"cookie", cookie.encode())] if cookie else [])
    communicator = WebsocketCommunicator(application, "/ws/models/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


def signed_in_cookie(django_user_model) -> tuple[object, str]:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("researcher")
    client = Client()
    client.force_login(user)
    return user, f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_uploader_hears_the_analysis_to_its_end_and_a_stranger_hears_nothing(
    fake_backend, django_user_model, tmp_path: Path
):
    user, cookie = await sync_to_async(signed_in_cookie)(django_user_model)
    mine, stranger = await socket(cookie), await socket()
    data = faces_clip(tmp_path / "a.mp4", seconds=1.0)
    video = await sync_to_async(services.video_create)(
        upload=SimpleUploadedFile("a.mp4", data), user=user, session_key="", fps=4
    )

    await sync_to_async(services.video_analyse)(video_id=str(video.pk))

    heard = [await mine.receive_json_from(timeout=5)]
    while heard[-1]["video"]["status"] != "done":
        heard.append(await mine.receive_json_from(timeout=5))
    assert heard[0] == {
        "type": "video.progress",
        "video": {"id": str(video.pk), "status": "processing", "percent": 0, "seconds_left": None, "error": None},
    }
    assert heard[-1]["video"]["percent"] == 100
    assert await stranger.receive_nothing(timeout=0.5)
    await mine.disconnect()
    await stranger.disconnect()
