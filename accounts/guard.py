"""Every password check goes through here: refused while the account or client is locked, counted when wrong."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from accounts.lockout import login_failure_record, login_refusal

# Set on a request whose sign-in was refused, to the seconds to wait: the lockout middleware answers 429 with it.
REFUSED = "infantino_login_refused"


def _username(username: str | None, credentials: dict[str, Any]) -> str | None:
    return username or credentials.get(get_user_model().USERNAME_FIELD)


class LoginGuardBackend:
    """First in AUTHENTICATION_BACKENDS: stops a throttled sign-in before any backend runs the password hasher.

    It never signs anyone in, and has no ``get_user``, so sessions and ``force_login`` keep naming ModelBackend.
    """

    def authenticate(self, request: Any, username: str | None = None, **credentials: Any) -> None:
        wait = login_refusal(request, username=_username(username, credentials))
        if wait is None:
            return None  # on to the next backend, which checks the password
        if request is not None:
            setattr(request, REFUSED, wait)
        raise PermissionDenied  # Django stops at once: no later backend checks the password

    async def aauthenticate(self, request: Any, username: str | None = None, **credentials: Any) -> None:
        return await sync_to_async(self.authenticate)(request, username, **credentials)


def failure_record(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """``user_login_failed``: count a wrong password, not an attempt the guard refused unchecked."""
    if request is not None and getattr(request, REFUSED, None) is not None:
        return
    login_failure_record(request, username=_username(None, credentials))
