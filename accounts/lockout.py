"""Password guessing, counted in the cache: failed sign-ins per account and per client within a window.

Past either limit a sign-in is refused before any password is checked, until the window that counted the
failures has passed. Refused attempts are not counted, so hammering a locked account does not prolong its
lockout. While the cache is down nothing is counted or refused (logged), as with the API throttles.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from common.oncely import OncePer
from common.throttling import client_ident

logger = logging.getLogger(__name__)

_warnings = OncePer(60.0)
PREFIX = "login-failures"


@dataclass(frozen=True)
class Counter:
    """The failures of one account or one client, and how many it may have in a window."""

    key: str
    limit: int
    kind: str

    @property
    def since_key(self) -> str:
        return f"{self.key}:since"

    @property
    def keys(self) -> tuple[str, str]:
        return (self.key, self.since_key)


def _counter(kind: str, value: str, limit: int) -> Counter:
    # Hashed: a username may hold characters a cache key must not, and neither it nor an address is kept readable.
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]
    return Counter(key=f"{PREFIX}:{kind}:{digest}", limit=limit, kind=kind)


def account_counter(username: str) -> Counter:
    return _counter("account", username, settings.INFANTINO_LOGIN_FAILURES_PER_ACCOUNT)


def client_counter(client: str) -> Counter:
    return _counter("client", client, settings.INFANTINO_LOGIN_FAILURES_PER_CLIENT)


def _counters(request: Any, username: str | None) -> list[Counter]:
    counters = [account_counter(username)] if username else []
    client = client_ident(request) if request is not None else None
    if client:
        counters.append(client_counter(client))
    return counters


def _unavailable(what: str) -> None:
    if _warnings.due():
        logger.warning("the cache is unavailable: sign-in failures are not %s meanwhile", what, exc_info=True)


def _wait(counters: list[Counter]) -> float | None:
    """Seconds until the last of ``counters`` past its limit ends its window; None when none is past it."""
    stored = cache.get_many([key for counter in counters for key in counter.keys])
    now = time.time()
    window = settings.INFANTINO_LOGIN_WINDOW_SECONDS
    waits = []
    for counter in counters:
        if int(stored.get(counter.key) or 0) >= counter.limit:
            since = stored.get(counter.since_key)
            started = since if isinstance(since, int | float) else now
            waits.append(max(1.0, started + window - now))
    return max(waits, default=None)


def login_refusal(request: Any, *, username: str | None) -> float | None:
    """Seconds until ``username`` may try a password from this client again; None when it may now."""
    if not settings.INFANTINO_LOGIN_THROTTLE:
        return None
    try:
        return _wait(_counters(request, username))
    except Exception:
        # A cache outage must not lock everybody out: fail open, as the API throttles do.
        _unavailable("checked")
        return None


def login_failure_record(request: Any, *, username: str | None) -> None:
    """Count one wrong password against ``username`` and the client that sent it."""
    if not settings.INFANTINO_LOGIN_THROTTLE:
        return
    try:
        for counter in _counters(request, username):
            _count(counter)
    except Exception:
        _unavailable("counted")


def _count(counter: Counter) -> None:
    window = settings.INFANTINO_LOGIN_WINDOW_SECONDS
    # The window starts at the first failure and is never extended: the lockout ends when it passes.
    cache.add(counter.since_key, time.time(), window)
    cache.add(counter.key, 0, window)
    try:
        failures = cache.incr(counter.key)
    except ValueError:  # expired in between, or the cache is down and reads as empty
        return
    if failures == counter.limit:
        logger.warning("sign-ins refused for up to %d s: %d failed for one %s", window, failures, counter.kind)


def login_lockout_of(username: str) -> float | None:
    """Seconds the account ``username`` stays locked (whatever the client); None when it is not."""
    try:
        return _wait([account_counter(username)])
    except Exception:
        _unavailable("checked")
        return None


def login_lockout_lift(*, usernames: Iterable[str] = (), clients: Iterable[str] = ()) -> None:
    """Forget the failures of these accounts and client addresses: they may sign in again at once."""
    counters = [account_counter(name) for name in usernames] + [client_counter(address) for address in clients]
    cache.delete_many([key for counter in counters for key in counter.keys])
