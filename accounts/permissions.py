"""DRF permissions for the roles."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from accounts.roles import is_annotator


class IsAnnotator(BasePermission):
    message = "Only annotators can do this: ask an administrator to add you to the annotator group."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_annotator(request.user)
