"""DRF permissions for the roles."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from accounts.roles import is_adjudicator, is_admin, is_annotator


class IsAnnotator(BasePermission):
    message = "Only annotators can do this: ask an administrator to add you to the annotator group."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_annotator(request.user)


class IsAdjudicator(BasePermission):
    message = "Only adjudicators settle conflicts: ask an administrator to add you to the adjudicator group."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_adjudicator(request.user)


class IsAdmin(BasePermission):
    message = "Only staff can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_admin(request.user)
