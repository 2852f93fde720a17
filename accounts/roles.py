"""The roles: uploader (anyone), annotator and adjudicator (groups of those names), admin (staff)."""

from __future__ import annotations

from typing import Any

ANNOTATOR_GROUP = "annotator"
# What the annotator group grants; labeling is allowed to whoever holds the first.
ANNOTATOR_PERMISSIONS = ("add_annotation", "view_annotation", "delete_annotation")
LABEL_PERMISSION = "annotations.add_annotation"
ADJUDICATOR_GROUP = "adjudicator"
ADJUDICATE_PERMISSION = "annotations.add_adjudication"


def is_admin(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def is_annotator(user: Any) -> bool:
    """May see every uploaded image in the labeling queue and label it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or user.has_perm(LABEL_PERMISSION)


def is_adjudicator(user: Any) -> bool:
    """May settle an image the annotators disagree on: staff, or the ``adjudicator`` group."""
    if not is_annotator(user):
        return False
    return user.is_staff or user.has_perm(ADJUDICATE_PERMISSION)


def sees_all_images(user: Any) -> bool:
    """Annotators see others' images because labeling needs them; admins see everything."""
    return is_annotator(user)


def roles_of(user: Any) -> list[str]:
    roles = ["uploader"]
    if is_annotator(user):
        roles.append("annotator")
    if is_adjudicator(user):
        roles.append("adjudicator")
    if is_admin(user):
        roles.append("admin")
    return roles
