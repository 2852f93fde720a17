"""HTTP Basic for the API, refused with 429 before the password is checked while the account or client is locked."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import BasicScheme
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import Throttled

from accounts.lockout import login_refusal


class ThrottledBasicAuthentication(BasicAuthentication):
    def authenticate_credentials(self, userid: str, password: str, request: Any = None) -> Any:
        # DRF authenticates before its throttles run: without this a throttled client's guesses were still checked.
        wait = login_refusal(request, username=userid)
        if wait is not None:
            raise Throttled(wait=wait, detail="Too many failed sign-ins: this one was not checked.")
        return super().authenticate_credentials(userid, password, request)


class ThrottledBasicScheme(BasicScheme):
    """The OpenAPI schema documents it as the plain HTTP Basic it is."""

    target_class = "accounts.authentication.ThrottledBasicAuthentication"
