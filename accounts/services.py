"""Writes for accounts: sign-up and the annotator role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import transaction

from accounts.roles import ANNOTATOR_GROUP, ANNOTATOR_PERMISSIONS
from predictions.services import Deleted, user_data_delete


def annotator_group_ensure() -> Group:
    """The annotator group with its permissions (the data migration makes it; a flushed test database has not)."""
    group, _ = Group.objects.get_or_create(name=ANNOTATOR_GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="annotations", codename__in=ANNOTATOR_PERMISSIONS)
    )
    return group


def annotator_grant(*, user: AbstractBaseUser) -> None:
    user.groups.add(annotator_group_ensure())  # type: ignore[attr-defined]
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)


def uploads_claim(*, user: AbstractBaseUser, session_key: str) -> int:
    """On sign-in, what this browser uploaded anonymously moves to the account."""
    from predictions.models import Prediction

    if not session_key:
        return 0
    return Prediction.objects.filter(session_key=session_key, uploaded_by__isnull=True).update(uploaded_by=user)


def account_delete(*, user: AbstractBaseUser, session_key: str) -> Deleted:
    """Everything the person gave (see ``user_data_delete``), then the account itself; audit entries keep no name."""
    with transaction.atomic():
        deleted = user_data_delete(user=user, session_key=session_key)
        user.delete()
    return deleted
