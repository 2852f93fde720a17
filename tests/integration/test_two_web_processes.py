"""The production profile past one process: two daphne web processes and a Celery worker sharing PostgreSQL,
Redis (channel layer and broker), moto's S3 and an MLflow server on a PostgreSQL store with S3 artifacts.

Process 2 checks the live alias only every hour here and has no page open, so only the channel layer's
``model.updated``, which every web process listens to, can make it serve a new version within seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.images import jpeg_bytes
from tests.servers import ProductionStack, production_stack

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/10"
USER, PASSWORD = "two-procs", "labels-cross-processes-7"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ProductionStack]:  # type: ignore[no-untyped-def]
    with production_stack(
        tmp_path_factory.mktemp("two-web-processes"),
        redis_url=REDIS,
        web_env=[{}, {"INFANTINO_MODEL_POLL_SECONDS": "3600"}],
        user=(USER, PASSWORD),
        INFANTINO_FORGETTING_GUARD="false",  # a tiny random model: every update goes live
    ) as stack:
        yield stack


def session() -> requests.Session:
    user = requests.Session()
    user.auth = (USER, PASSWORD)
    return user


def predict(url: str, seed: int) -> dict:
    response = session().post(
        f"{url}/api/predictions/",
        files={"image": (f"{seed}.jpg", jpeg_bytes(size=64, seed=seed), "image/jpeg")},
        data={"consent": "true"},  # shared for labeling: the first test labels it
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return response.json()


class OpenPage:
    """What a page open on a web process does: listen on ``/ws/models/``, noting when each event arrives."""

    def __init__(self, url: str) -> None:
        self.url, self.events = url, []
        self.connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)
        self._thread.start()
        assert self.connected.wait(30), "the websocket did not connect"

    async def _listen(self) -> None:
        import aiohttp

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(self.url.replace("http", "ws", 1) + "/ws/models/", origin=self.url) as socket,
        ):
            self.connected.set()
            receiving = asyncio.ensure_future(self._receive(socket))
            await self._stop.wait()
            receiving.cancel()

    async def _receive(self, socket) -> None:  # type: ignore[no-untyped-def]
        async for message in socket:
            self.events.append((time.monotonic(), json.loads(message.data)))

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


def test_a_label_posted_to_process_one_changes_what_process_two_serves_within_two_seconds(stack):
    first, second = stack.web
    image = predict(first, seed=1)
    assert predict(second, seed=2)["model_version"] == stack.base_version
    page = OpenPage(first)  # a page open on process 1 hears the worker's event too
    try:
        answer = session().post(f"{first}/api/annotations/", json={"image": image["id"], "label": "happy"}, timeout=30)
        assert answer.status_code == 201, answer.text
        annotation = answer.json()

        # When the worker has committed the label (seen through process 1's API, polled every 20 ms) …
        deadline = time.monotonic() + 90
        while (found := session().get(f"{first}/api/annotations/{annotation['id']}/", timeout=30).json())[
            "status"
        ] == "queued":
            assert time.monotonic() < deadline, stack.worker.log()[-3000:]
            time.sleep(0.02)
        learned_at, version = time.monotonic(), found["model_version"]
        assert found["status"] == "learned" and version != stack.base_version

        # … process 2 answers predictions with the new version within 2 s.
        seed, served = 100, None
        while time.monotonic() - learned_at < 10:
            served = predict(second, seed=seed)["model_version"]
            if served == version:
                break
            seed += 1
        serving_after = time.monotonic() - learned_at
    finally:
        page.close()

    assert served == version, f"process 2 still served {served} {serving_after:.1f} s after the label was learned"
    assert serving_after < 2.0, f"process 2 took {serving_after:.2f} s"
    assert any(event["version"] == version for _, event in page.events)
    print(f"label learned → process 2 serves version {version}: {1000 * serving_after:.0f} ms")


def test_an_image_uploaded_through_process_one_is_readable_through_process_two(stack):
    first, second = stack.web
    uploaded = predict(first, seed=7)

    answer = session().get(f"{second}/api/predictions/{uploaded['id']}/", timeout=30)

    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["label"] == uploaded["label"] and seen["model_version"] == uploaded["model_version"]
    url = seen["image_url"]
    assert url.startswith(stack.s3) and "X-Amz-Signature" in url
    expires = int(url.split("X-Amz-Expires=", 1)[1].split("&", 1)[0])
    assert 0 < expires <= 300  # presigned URLs live at most 5 minutes
    through_second = requests.get(url, timeout=10).content
    through_first = requests.get(uploaded["image_url"], timeout=10).content
    assert through_second[:3] == b"\xff\xd8\xff" and through_second == through_first
