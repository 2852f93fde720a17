"""The sign-in pages (the form, the admin's) answer 429 when the guard refused the attempt unchecked."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from accounts.guard import REFUSED
from accounts.views import login_refused


class LoginLockoutMiddleware(MiddlewareMixin):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        wait = getattr(request, REFUSED, None)
        if wait is None:
            return response
        return login_refused(request, wait=wait)
