"""The sign-in pages (the form, the admin's) answer 429 when the guard refused the attempt unchecked."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.guard import REFUSED
from accounts.views import login_refused


class LoginLockoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        wait = getattr(request, REFUSED, None)
        if wait is None:
            return response
        return login_refused(request, wait=wait)
