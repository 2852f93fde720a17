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
    seconds = models.FloatField(null=True, blank=True)  # time from the photo shown to the label, as the page measured
    # Confident learning found this label likely wrong: why, and since when its image waits for a second annotator.
    suspect_note = models.CharField(max_length=300, blank=True)
    suspect_since = models.DateTimeField(null=True, blank=True)

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


class Adjudication(models.Model):
    """A staff or adjudicator decision that settles an image the annotators disagree on; an audit record."""

    image = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="adjudication")
    label = models.CharField(max_length=16, choices=Expression.choices)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjudications")
    votes = models.JSONField(default=list)  # every vote as the adjudicator saw it: [{"annotator", "label"}]
    note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=Q(label__in=Expression.values), name="adjudication_label_is_known"),
        ]

    def __str__(self) -> str:
        return f"{self.label} on {self.image_id} by {self.adjudicator_id}"


class QueueSkip(models.Model):
    """An image an annotator skipped: it leaves their queue (kept on the server, not in the query string)."""

    image = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_skips")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="one_skip_per_image_and_annotator"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} skipped by {self.annotator_id}"


class LabelingSettings(models.Model):
    """The project's labeling settings: one row (pk 1), read through ``labeling_settings()``."""

    blind = models.BooleanField(default=False)  # hide the model's guess and probabilities from every annotator
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "labeling settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="labeling_settings_single_row")]

    def __str__(self) -> str:
        return f"labeling settings (blind: {self.blind})"


class AnnotatorPreference(models.Model):
    """One annotator's own choices while labeling."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labeling_preference")
    blind = models.BooleanField(default=False)  # hide the model's guess for this person even when the project shows it

    def __str__(self) -> str:
        return f"preferences of {self.user_id} (blind: {self.blind})"
