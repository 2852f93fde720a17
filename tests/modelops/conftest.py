"""Model-operations fixtures: a signed-in admin."""

from __future__ import annotations

import pytest


@pytest.fixture
def staff(client, django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("admin", password="a-long-password", is_staff=True)
    client.force_login(user)
    return user
