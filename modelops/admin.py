"""Model operations in /admin/: the audit of live-version moves (read-only) and the dashboard's retrains."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from common.admin import ReadOnlyAdmin
from modelops.models import ModelChange, TrainingJob


@admin.register(ModelChange)
class ModelChangeAdmin(ReadOnlyAdmin):
    """An audit trail: rows are written by the alias service alone, and nobody edits or deletes them here."""

    list_display = ("created", "action", "previous_version", "version", "user", "reason")
    list_filter = ("action",)
    search_fields = ("version", "previous_version", "user__username", "reason")
    date_hierarchy = "created"
    list_select_related = ("user",)


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    """Retrains start, cancel and finish from the dashboard; here they are read, and finished ones tidied away."""

    list_display = ("id", "status", "created", "started", "finished", "started_by", "result_version", "promoted")
    list_filter = ("status", "promoted")
    search_fields = ("result_version", "message", "started_by__username")
    date_hierarchy = "created"
    list_select_related = ("started_by",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrainingJob | None = None) -> bool:
        # A queued or running job's row is what its worker reports to, and what keeps a second retrain out.
        if obj is not None and obj.is_active:
            return False
        return super().has_delete_permission(request, obj)
