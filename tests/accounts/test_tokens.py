"""API tokens for scripts: issued for a password through the sign-in guard, revoked on request, roles kept."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.images import jpeg_bytes
from tests.security.conftest import PASSWORD, signed_in, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="olga", password=PASSWORD)


@pytest.fixture
def annotator(django_user_model):  # type: ignore[no-untyped-def]
    from accounts.services import annotator_grant

    user = django_user_model.objects.create_user(username="anna", password=PASSWORD)
    annotator_grant(user=user)
    return user


@pytest.fixture
def guarded(settings):  # type: ignore[no-untyped-def]
    """The sign-in guard on, as in production (the test environment turns throttling off)."""
    settings.INFANTINO_LOGIN_THROTTLE = True
    settings.INFANTINO_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.INFANTINO_LOGIN_FAILURES_PER_CLIENT = 100
    settings.INFANTINO_LOGIN_WINDOW_SECONDS = 900
    cache.clear()
    yield settings
    cache.clear()


def ask_token(username: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return APIClient().post("/api/token/", {"username": username, "password": password}, REMOTE_ADDR=address)


def with_token(key: str, **headers: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", **headers)
    return client


def test_a_script_trades_its_password_for_a_token_that_stays_the_same_until_revoked(owner):
    first = ask_token("olga", PASSWORD)
    second = ask_token("olga", PASSWORD)

    assert first.status_code == 200, first.content
    assert first.json()["token"] == second.json()["token"] == Token.objects.get(user=owner).key
    assert with_token(first.json()["token"]).get("/api/me/").json()["username"] == "olga"


def test_a_wrong_password_gets_no_token(owner):
    response = ask_token("olga", "not-the-password")

    assert response.status_code == 400
    assert response.json() == {"error": "Wrong username or password."}
    assert not Token.objects.exists()


def test_wrong_passwords_for_a_token_count_toward_the_lockout_and_a_locked_account_gets_no_token(guarded, owner):
    answers = [ask_token("olga", "not-the-password", address=f"10.0.0.{n}").status_code for n in range(3)]
    refused = ask_token("olga", PASSWORD, address="10.0.0.9")

    assert answers == [400, 400, 400]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "not checked" in refused.json()["error"]
    assert not Token.objects.exists()
    # The lockout earned here holds on the sign-in form too: one guard for every door.
    assert APIClient().post("/accounts/login/", {"username": "olga", "password": PASSWORD}).status_code == 429


def test_a_token_needs_no_csrf_token_even_from_a_browser_like_client(owner, fake_backend):
    key = ask_token("olga", PASSWORD).json()["token"]
    client = with_token(key, HTTP_ORIGIN="https://elsewhere.example", HTTP_SEC_FETCH_SITE="cross-site")

    posted = client.post("/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())}, format="multipart")

    assert posted.status_code == 201, posted.content
    assert client.get("/api/predictions/").json()["results"][0]["id"] == posted.json()["id"]  # it is the owner's


def test_a_plain_users_token_cannot_label_and_an_annotators_can(owner, annotator, fake_backend):
    photo = upload(signed_in(owner))
    label = {"image": photo["id"], "label": "happy"}

    plain = with_token(ask_token("olga", PASSWORD).json()["token"]).post("/api/annotations/", label, format="json")
    labeler = with_token(ask_token("anna", PASSWORD).json()["token"]).post("/api/annotations/", label, format="json")

    assert plain.status_code == 403
    assert labeler.status_code == 201, labeler.content


def test_a_revoked_token_is_refused_from_then_on(owner):
    key = ask_token("olga", PASSWORD).json()["token"]

    revoked = with_token(key).delete("/api/token/")
    after = with_token(key).get("/api/me/")

    assert revoked.status_code == 204
    assert after.status_code in {401, 403}
    assert "Invalid token" in after.json()["error"]
    assert not Token.objects.filter(user=owner).exists()


def test_revoking_needs_a_signed_in_caller(owner):
    assert APIClient().delete("/api/token/").status_code in {401, 403}


def test_an_invalid_token_is_refused_not_read_as_anonymous():
    response = with_token("0" * 40).get("/api/me/")

    assert response.status_code in {401, 403}
    assert "Invalid token" in response.json()["error"]


def test_the_drf_create_token_command_makes_a_working_token(owner):
    out = io.StringIO()
    call_command("drf_create_token", "olga", stdout=out)

    key = Token.objects.get(user=owner).key
    assert key in out.getvalue()
    assert with_token(key).get("/api/me/").json()["username"] == "olga"
