from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations import services
from annotations.models import Adjudication, Annotation, AnnotatorPreference, LabelingSettings, QueueSkip
from common.admin import ReadOnlyAdmin


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "label", "annotator", "status", "model_version", "seconds", "created"]
    list_filter = ["status", "label"]
    search_fields = ["image__id", "annotator__username", "model_version"]
    readonly_fields = ["status", "model_version", "parent_version", "guard_note", "seconds", "created"]


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    """An audit record: read only here; decisions are made on the conflicts page, where they are learned."""

    list_display = ["image", "label", "adjudicator", "created"]
    list_filter = ["label"]
    search_fields = ["image__id", "adjudicator__username", "note"]


@admin.register(LabelingSettings)
class LabelingSettingsAdmin(admin.ModelAdmin):
    list_display = ["blind", "updated_by", "updated"]
    fields = ["blind"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not LabelingSettings.objects.exists()  # one row: the project's

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LabelingSettings, form: Any, change: bool) -> None:
        saved = services.labeling_settings_update(blind=obj.blind, by=request.user)
        obj.pk, obj.updated_by, obj.updated = saved.pk, saved.updated_by, saved.updated


@admin.register(AnnotatorPreference)
class AnnotatorPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "blind"]
    search_fields = ["user__username"]


@admin.register(QueueSkip)
class QueueSkipAdmin(admin.ModelAdmin):
    list_display = ["image", "annotator", "created"]
    search_fields = ["image__id", "annotator__username"]
