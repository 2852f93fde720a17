from django.contrib import admin

from annotations.models import Annotation


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "label", "annotator", "status", "model_version", "created"]
    list_filter = ["status", "label"]
    search_fields = ["image__id", "annotator__username", "model_version"]
    readonly_fields = ["status", "model_version", "parent_version", "guard_note", "created"]
