"""Password guessing is refused before the password is checked: per account and per client, for a window."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import global_settings
from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from infantino_site import cache as tolerant_cache
from tests.security.conftest import PASSWORD
from tests.servers import empty_redis_db, free_port

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def sign_in_form(path: str) -> Callable[..., tuple[int, Any]]:
    def sign_in(username: str, password: str, address: str, **headers: str) -> tuple[int, Any]:
        client = Client()
        body = {"username": username, "password": password}
        response = client.post(path, body, REMOTE_ADDR=address, **headers)
        return response.status_code, response

    return sign_in


def sign_in_api(username: str, password: str, address: str, **headers: str) -> tuple[int, Any]:
    response = APIClient().get("/api/me/", HTTP_AUTHORIZATION=basic(username, password), REMOTE_ADDR=address, **headers)
    return response.status_code, response


# Each door: how to try a password, what a wrong one and the right one answer when they are checked.
DOORS = {
    "form": (sign_in_form("/accounts/login/"), 200, 302),
    "admin": (sign_in_form("/admin/login/"), 200, 302),
    "api": (sign_in_api, 403, 200),
}


@pytest.fixture
def hasher_runs(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Every time a password hasher computes a hash (to check a password, or to make one)."""
    runs: list[str] = []
    for hasher in (MD5PasswordHasher, PBKDF2PasswordHasher):
        monkeypatch.setattr(hasher, "encode", counting(hasher.encode, runs))
    return runs


def counting(encode, runs: list[str]):  # type: ignore[no-untyped-def]
    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(type(self).__name__)
        return encode(self, *args, **kwargs)

    return counted


@pytest.fixture
def guarded(settings):  # type: ignore[no-untyped-def]
    """Sign-in throttling on (the test environment turns it off) with its defaults, in an empty cache."""
    settings.INFANTINO_LOGIN_THROTTLE = True
    settings.INFANTINO_LOGIN_FAILURES_PER_ACCOUNT = 10
    settings.INFANTINO_LOGIN_FAILURES_PER_CLIENT = 5
    settings.INFANTINO_LOGIN_WINDOW_SECONDS = 900
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def root(guarded, settings, make_user):  # type: ignore[no-untyped-def]
    """A staff account (every door lets it in), with a fast hasher: this file makes many wrong guesses."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_user("root", staff=True)


def guess_wrong(door: str, username: str, times: int, *, first: int = 0) -> None:
    """``times`` wrong passwords, each from an address of its own, all checked."""
    sign_in, wrong, _ = DOORS[door]
    for n in range(first, first + times):
        assert sign_in(username, WRONG, f"10.1.{n // 250}.{n % 250 + 1}")[0] == wrong


@pytest.mark.parametrize("door", list(DOORS))
def test_after_ten_wrong_passwords_even_the_right_one_is_refused_with_429_unchecked(door, root, hasher_runs):
    guess_wrong(door, "root", 10)
    hasher_runs.clear()

    code, response = DOORS[door][0]("root", PASSWORD, "192.0.2.77")

    assert code == 429
    assert 850 < int(response["Retry-After"]) <= 900
    assert hasher_runs == []  # refused before any password was checked
    if door == "api":
        assert "Too many failed sign-ins" in response.json()["error"]
    else:
        assert "Too many failed sign-ins" in response.content.decode()
        assert "_auth_user_id" not in response.wsgi_request.session


def test_nine_wrong_passwords_do_not_lock_the_account(root):
    guess_wrong("form", "root", 9)

    assert sign_in_form("/accounts/login/")("root", PASSWORD, "192.0.2.77")[0] == 302


def test_a_lockout_earned_on_the_form_holds_on_the_admin_and_the_api(root):
    guess_wrong("form", "root", 10)

    assert DOORS["admin"][0]("root", PASSWORD, "192.0.2.77")[0] == 429
    assert DOORS["api"][0]("root", PASSWORD, "192.0.2.78")[0] == 429


def test_one_client_is_stopped_before_it_can_lock_the_owner_out_and_a_forged_address_does_not_help(root, make_user):
    make_user("olga")
    sign_in = DOORS["api"][0]
    wrong = [sign_in("root", WRONG, "10.0.0.1")[0] for _ in range(5)]

    assert wrong == [403] * 5
    assert sign_in("root", PASSWORD, "10.0.0.1")[0] == 429
    assert sign_in("olga", PASSWORD, "10.0.0.1")[0] == 429  # every account, from that client
    assert sign_in("olga", PASSWORD, "10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")[0] == 429
    assert sign_in("root", PASSWORD, "10.0.0.2")[0] == 200  # the owner, elsewhere, is not locked out


def test_the_lockout_ends_when_its_window_passes_however_often_it_was_tried_meanwhile(root, monkeypatch):
    sign_in = DOORS["form"][0]
    guess_wrong("form", "root", 10)
    started = time.time()
    real_time = time.time

    monkeypatch.setattr(time, "time", lambda: real_time() + 880)
    refused = [sign_in("root", WRONG, f"10.2.0.{n}")[0] for n in range(1, 6)]
    assert [*refused, sign_in("root", PASSWORD, "10.2.0.9")[0]] == [429] * 6

    monkeypatch.setattr(time, "time", lambda: started + 901)
    assert sign_in("root", PASSWORD, "10.2.0.10")[0] == 302


@pytest.fixture
def costly(guarded, make_user):  # type: ignore[no-untyped-def]
    """The production hasher, and an account locked by its first wrong password."""
    guarded.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the app names none: Django's own, PBKDF2 first
    guarded.INFANTINO_LOGIN_FAILURES_PER_ACCOUNT = 1
    return make_user("ann")


@pytest.mark.parametrize("door", ["form", "api"])
def test_a_refused_guess_costs_under_20_ms_where_a_checked_one_pays_for_the_hasher(door, costly, hasher_runs):
    sign_in, wrong, _ = DOORS[door]
    hasher_runs.clear()
    # CPU time of this thread (the test client answers in it): what a guess costs the server, and unlike the wall
    # clock not inflated by whatever else a busy machine runs.
    started = time.thread_time()
    assert sign_in("ann", WRONG, "10.3.0.1")[0] == wrong
    checked = time.thread_time() - started
    assert hasher_runs == ["PBKDF2PasswordHasher"]  # that one was checked, by the production hasher

    refused = []
    for n in range(2, 8):
        started = time.thread_time()
        assert sign_in("ann", WRONG, f"10.3.0.{n}")[0] == 429
        refused.append(time.thread_time() - started)

    assert min(refused) < 0.020, refused
    assert checked > 5 * min(refused), (checked, refused)
    assert hasher_runs == ["PBKDF2PasswordHasher"]  # and none of these


def test_an_admin_sees_and_lifts_a_lockout_in_the_user_list(root, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", password=PASSWORD)
    guess_wrong("form", "root", 10)
    admin = Client()
    admin.force_login(boss)

    assert "15 min more" in admin.get("/admin/auth/user/").content.decode()
    lifted = admin.post("/admin/auth/user/", {"action": "lift_login_lockout", "_selected_action": [root.pk]})

    assert lifted.status_code == 302
    assert sign_in_form("/accounts/login/")("root", PASSWORD, "192.0.2.77")[0] == 302


def test_the_login_unlock_command_lifts_an_account_and_a_client(root):
    guess_wrong("api", "root", 10)
    sign_in = DOORS["api"][0]
    for _ in range(5):
        sign_in("nobody", WRONG, "10.4.0.1")
    assert (sign_in("root", PASSWORD, "10.4.0.2")[0], sign_in("root", PASSWORD, "10.4.0.1")[0]) == (429, 429)

    call_command("login_unlock", "root", "--client", "10.4.0.1")

    assert sign_in("root", PASSWORD, "10.4.0.1")[0] == 200


def test_a_signed_in_owner_keeps_their_session_while_their_account_is_locked(root):
    browser = APIClient()
    browser.force_login(root)
    guess_wrong("api", "root", 10)

    assert browser.get("/api/me/").status_code == 200


@pytest.fixture(params=["infantino_site.cache.TolerantRedisCache", "django.core.cache.backends.redis.RedisCache"])
def dead_cache(request, root, settings):  # type: ignore[no-untyped-def]
    """The cache on a port where nothing listens: production's tolerant one, and a plain one that raises."""
    working = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": request.param,
            "LOCATION": f"redis://127.0.0.1:{free_port()}/6",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    tolerant_cache._warnings.forget()
    yield
    settings.CACHES = working


def test_with_the_cache_down_sign_in_still_works_and_nothing_is_refused(dead_cache):
    sign_in = DOORS["form"][0]

    codes = [sign_in("root", WRONG, "10.5.0.1")[0] for _ in range(12)]

    assert codes == [200] * 12  # counted nowhere, so never refused, and never a 500
    assert sign_in("root", PASSWORD, "10.5.0.1")[0] == 302
    assert DOORS["api"][0]("root", PASSWORD, "10.5.0.1")[0] == 200


def test_on_a_real_redis_the_counts_expire_with_their_window_and_the_lockout_holds(root, settings):
    url = "redis://127.0.0.1:6379/4"
    with empty_redis_db(url) as redis:
        settings.CACHES = {"default": {"BACKEND": "infantino_site.cache.TolerantRedisCache", "LOCATION": url}}
        guess_wrong("api", "root", 10)

        assert DOORS["api"][0]("root", PASSWORD, "192.0.2.77")[0] == 429
        ttls = [redis.ttl(key) for key in redis.keys("*login-failures:account*")]  # type: ignore[attr-defined]
        assert len(ttls) == 2 and all(0 < ttl <= 900 for ttl in ttls)  # the count and its start, gone with the window
        call_command("login_unlock", "root")
        assert DOORS["api"][0]("root", PASSWORD, "192.0.2.77")[0] == 200
