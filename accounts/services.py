"""Writes for accounts: the annotator role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Group, Permission

from accounts.roles import ANNOTATOR_GROUP, ANNOTATOR_PERMISSIONS


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
