"""The simulated users of ``bench/load.py``: each signs in like a browser, then uploads photos and labels some."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time

PASSWORD = "load-bench-password-42"


class Client:
    """One signed-in user: mostly uploads, and every ``label_every``-th request labels an earlier photo of its own."""

    def __init__(self, index: int, web: list[str], images: list[tuple[bytes, str]], label_every: int) -> None:
        self.index, self.web, self.images, self.label_every = index, web, images, label_every
        self.username = f"load-{index}"
        self.unlabeled: list[tuple[str, str]] = []  # (prediction id, true label)
        self.results: list[tuple[str, float, int]] = []  # (kind, seconds, status)
        self.acknowledged: list[int] = []  # annotation ids answered 201
        self._turn = itertools.count()
        self.samples: list[str] = []  # a few failed answers, to say why

    async def _answer(self, response) -> dict:  # type: ignore[no-untyped-def]
        text = await response.text()
        if response.status in (200, 201):
            return json.loads(text)
        if len(self.samples) < 3:
            self.samples.append(f"{response.method} {response.url.path} {response.status}: {text[:300]}")
        return {}

    def _base(self) -> str:
        return self.web[next(self._turn) % len(self.web)]

    async def sign_in(self, session) -> None:  # type: ignore[no-untyped-def]
        base = self.web[self.index % len(self.web)]
        async with session.get(f"{base}/accounts/login/") as response:
            await response.read()
        token = self._csrf(session)
        form = {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
        async with session.post(
            f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}, allow_redirects=False
        ) as response:
            await response.read()
            if response.status != 302:
                raise RuntimeError(f"{self.username} could not sign in: {response.status}")

    @staticmethod
    def _csrf(session) -> str:  # type: ignore[no-untyped-def]
        return next(cookie.value for cookie in session.cookie_jar if cookie.key == "csrftoken")

    async def run(self, session, until: float) -> None:  # type: ignore[no-untyped-def]
        import aiohttp

        rng = random.Random(self.index)
        step = 0
        while time.monotonic() < until:
            step += 1
            labeling = bool(self.unlabeled) and step % self.label_every == 0
            base, started = self._base(), time.perf_counter()
            headers = {"X-CSRFToken": self._csrf(session)}
            try:
                if labeling:
                    prediction, label = self.unlabeled.pop(0)
                    async with session.post(
                        f"{base}/api/annotations/", json={"image": prediction, "label": label}, headers=headers
                    ) as response:
                        body = await self._answer(response)
                        if response.status == 201:
                            self.acknowledged.append(int(body["id"]))
                else:
                    data, label = rng.choice(self.images)
                    form = aiohttp.FormData()
                    form.add_field("image", data, filename="photo.jpg", content_type="application/octet-stream")
                    form.add_field("consent", "true")  # shared, so that it may be labeled later
                    async with session.post(f"{base}/api/predictions/", data=form, headers=headers) as response:
                        body = await self._answer(response)
                        if response.status == 201:
                            self.unlabeled.append((body["id"], label))
                status = response.status
            except (TimeoutError, aiohttp.ClientError) as error:
                self.samples.append(repr(error)[:300])
                status = 0
            kind = "label" if labeling else "predict"
            self.results.append((kind, time.perf_counter() - started, status))


async def drive(web: list[str], clients: int, seconds: float, images, label_every: int) -> list[Client]:  # type: ignore[no-untyped-def]
    import aiohttp

    crew = [Client(i, web, images, label_every) for i in range(clients)]
    timeout = aiohttp.ClientTimeout(total=120)
    sessions = [
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) for _ in range(clients)
    ]
    try:
        await asyncio.gather(*(client.sign_in(session) for client, session in zip(crew, sessions, strict=True)))
        until = time.monotonic() + seconds
        await asyncio.gather(*(client.run(session, until) for client, session in zip(crew, sessions, strict=True)))
    finally:
        await asyncio.gather(*(session.close() for session in sessions))
    return crew
