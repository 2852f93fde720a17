"""The sign-in guard's edges: documented as plain HTTP Basic, off when turned off, and an unlock that names nobody."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIRequestFactory

from accounts.lockout import login_failure_record, login_refusal


def test_the_api_schema_still_documents_http_basic():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert schema["components"]["securitySchemes"]["basicAuth"] == {"type": "http", "scheme": "basic"}


def test_with_sign_in_throttling_off_nothing_is_counted_or_refused(settings):
    settings.INFANTINO_LOGIN_THROTTLE = False
    settings.INFANTINO_LOGIN_FAILURES_PER_ACCOUNT = 1
    cache.clear()
    request = APIRequestFactory().get("/", REMOTE_ADDR="10.9.0.1")

    for _ in range(3):
        login_failure_record(request, username="ann")

    assert login_refusal(request, username="ann") is None
    settings.INFANTINO_LOGIN_THROTTLE = True
    assert login_refusal(request, username="ann") is None  # nothing was counted meanwhile


def test_the_unlock_command_asks_for_someone_to_unlock():
    with pytest.raises(CommandError, match="at least one username"):
        call_command("login_unlock")
