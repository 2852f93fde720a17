"""Writes for accounts: the annotator and adjudicator roles, and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from rest_framework.authtoken.models import Token

from accounts.roles import ADJUDICATE_PERMISSION, ADJUDICATOR_GROUP, ANNOTATOR_GROUP, ANNOTATOR_PERMISSIONS


def annotator_group_ensure() -> Group:
    """The annotator group with its permissions (the data migration makes it; a flushed test database has not)."""
    return _group_ensure(ANNOTATOR_GROUP, codenames=ANNOTATOR_PERMISSIONS)


def annotator_grant(*, user: AbstractBaseUser) -> None:
    user.groups.add(annotator_group_ensure())  # type: ignore[attr-defined]
    _forget_permissions(user)


def adjudicator_grant(*, user: AbstractBaseUser) -> None:
    """An annotator who may also settle conflicts (the data migration makes the group; a flushed database has not)."""
    adjudicators = _group_ensure(ADJUDICATOR_GROUP, codenames=(ADJUDICATE_PERMISSION.split(".")[1],))
    user.groups.add(annotator_group_ensure(), adjudicators)  # type: ignore[attr-defined]
    _forget_permissions(user)


def _group_ensure(name: str, *, codenames: tuple[str, ...]) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="annotations", codename__in=codenames))
    return group


def _forget_permissions(user: AbstractBaseUser) -> None:
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)


def token_issue(*, user: AbstractBaseUser) -> str:
    """The key of ``user``'s API token, made on first request; the same key until it is revoked."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def token_revoke(*, user: AbstractBaseUser) -> bool:
    """Delete ``user``'s API token: every script holding it is refused from now on. False when there was none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
