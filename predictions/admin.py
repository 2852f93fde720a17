"""Uploads in /admin/: looked at, searched and deleted there, never edited (the services own every change)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from common.admin import ReadOnlyAdmin
from predictions import services
from predictions.models import ImageEmbedding, Prediction


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("id", "created", "label", "uncertainty", "model_version", "consent", "unusable", "uploaded_by")
    list_filter = ("label", "consent", "unusable", "model_version")
    search_fields = ("=id", "model_version", "uploaded_by__username")
    date_hierarchy = "created"
    list_select_related = ("uploaded_by",)
    show_full_result_count = False  # no second COUNT over every upload on each page

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a photo comes in through an upload: validated, cleaned, predicted

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # consent is the uploader's to give or withdraw (withdrawing it unlearns the photo)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        # Its embeddings and labels go with the photo, through the service: they are not the admin's to delete
        # one by one (the embeddings' admin is read-only), so they need no permission of their own here.
        return deleted, counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Prediction) -> None:
        # The service also removes the file and makes the live model forget a photo it learned from.
        services.prediction_delete(prediction=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Prediction]) -> None:
        services.predictions_delete(predictions=queryset)


@admin.register(ImageEmbedding)
class ImageEmbeddingAdmin(ReadOnlyAdmin):
    """Derived from a photo by one extractor: a record to read, removed only with its photo."""

    list_display = ("prediction", "extractor_id", "face_found", "created")
    list_filter = ("extractor_id",)
    search_fields = ("=prediction__id", "extractor_id")
    exclude = ("vector",)  # 64 floats as bytes: nothing a person can read
    list_select_related = ("prediction",)
    show_full_result_count = False

    @admin.display(boolean=True, description="face found")
    def face_found(self, embedding: ImageEmbedding) -> bool:
        return embedding.face_box is not None
