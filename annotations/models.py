from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from predictions.models import COUNTED, Expression, LabelStatus, Prediction


class Annotation(models.Model):
    """One person's label for one image, and what became of it in online learning."""

    Status = LabelStatus
    COUNTED = COUNTED  # the statuses that settled their image

    image = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="annotations")
    label = models.CharField(max_length=16, choices=Expression.choices)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    model_version = models.CharField(max_length=32, blank=True)  # the version learned from it
    parent_version = models.CharField(max_length=32, blank=True)  # the live version it was learned onto
    guard_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="one_label_per_image_and_annotator"),
            models.CheckConstraint(condition=Q(label__in=Expression.values), name="annotation_label_is_known"),
        ]

    def __str__(self) -> str:
        return f"{self.label} on {self.image_id} by {self.annotator_id} ({self.status})"

    @property
    def counted(self) -> bool:
        return self.status in self.COUNTED
