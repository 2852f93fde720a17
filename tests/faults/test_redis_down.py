"""Redis goes away: predictions, the upload page and sessions keep working; broadcasts are dropped with a warning.

The app runs with the cache, session and channel-layer settings that ``settings.py`` derives from a
``REDIS_URL`` whose port nothing listens on.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from infantino_site import cache as tolerant_cache
from modelops.events import broadcast_model_updated, broadcast_training
from predictions.models import Prediction
from tests.images import jpeg_bytes
from tests.servers import REPO_ROOT, app_env, empty_redis_db, free_port

pytestmark = pytest.mark.django_db

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'CACHES': s.CACHES, 'CHANNEL_LAYERS': s.CHANNEL_LAYERS, 'SESSION_ENGINE': s.SESSION_ENGINE}))"
)
SECRET = "redis-fault-test-" + "k3y-" * 10


def redis_settings(tmp_path_factory, url: str) -> dict:  # type: ignore[type-arg]
    """What settings.py makes of ``REDIS_URL=url``: the very cache, sessions and channel layer production gets."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=app_env(tmp_path_factory.mktemp("redis-settings"), REDIS_URL=url, SECRET_KEY=SECRET),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def down_profile(tmp_path_factory) -> dict:  # type: ignore[type-arg]
    return redis_settings(tmp_path_factory, f"redis://127.0.0.1:{free_port()}/8")


@pytest.fixture
def redis_down(settings, down_profile):  # type: ignore[no-untyped-def]
    for name, value in down_profile.items():
        setattr(settings, name, value)
    tolerant_cache._warnings.forget()
    yield settings


def test_the_redis_profile_uses_the_tolerant_cache_with_short_timeouts(down_profile):
    cache = down_profile["CACHES"]["default"]
    assert cache["BACKEND"] == "infantino_site.cache.TolerantRedisCache"
    assert cache["OPTIONS"]["socket_connect_timeout"] <= 1 and cache["OPTIONS"]["socket_timeout"] <= 2
    assert down_profile["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert down_profile["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


def test_a_prediction_is_made_while_redis_is_down(redis_down, live_model):
    started = time.monotonic()
    response = APIClient().post(
        "/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert response.json()["model_version"] == live_model
    assert time.monotonic() - started < 5


def test_the_upload_page_predicts_and_keeps_its_session_in_the_database_while_redis_is_down(
    redis_down, live_model, client
):
    assert client.get("/").status_code == 200

    posted = client.post("/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes(seed=1))})

    assert posted.status_code == 302
    prediction = Prediction.objects.get()
    assert posted["Location"].endswith(f"/predictions/{prediction.pk}/")
    # The result page is shown only to the session that uploaded: the session was found without Redis.
    assert client.get(posted["Location"]).status_code == 200
    assert str(prediction.pk) in client.get("/").content.decode()  # listed in this session's history


def test_a_model_broadcast_is_dropped_with_one_warning_while_redis_is_down(redis_down, caplog):
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="modelops.events"):
        broadcast_model_updated("7")
        broadcast_model_updated("8")
        broadcast_training({"id": 1, "status": "running"})

    assert time.monotonic() - started < 5
    warnings = [r.getMessage() for r in caplog.records if "could not send" in r.getMessage()]
    assert len(warnings) == 2  # one per group a minute: model events, training progress


def test_the_cache_reads_as_empty_and_drops_writes_while_redis_is_down(redis_down, caplog):
    cache = caches["default"]
    with caplog.at_level(logging.WARNING, logger="infantino_site.cache"):
        cache.set("k", 1)
        assert cache.get("k", "missing") == "missing"
        assert cache.add("k", 1) is False
        assert cache.get_many(["k"]) == {}
        assert "k" not in cache
        assert cache.set_many({"a": 1}) == ["a"]
        with pytest.raises(ValueError):
            cache.incr("k")
        assert cache.delete("k") is False

    assert len([r for r in caplog.records if "Redis cache is unavailable" in r.getMessage()]) == 1


def test_the_tolerant_cache_is_a_real_cache_while_redis_is_up(settings, tmp_path_factory):
    url = "redis://127.0.0.1:6379/8"
    with empty_redis_db(url) as redis:
        settings.CACHES = redis_settings(tmp_path_factory, url)["CACHES"]
        cache = caches["default"]

        cache.set("k", {"v": 1})
        assert cache.add("k", 2) is False

        assert cache.get("k") == {"v": 1}
        assert cache.add("n", 1) is True
        assert cache.incr("n") == 2
        assert redis.dbsize() == 2  # type: ignore[attr-defined]
