from __future__ import annotations

import hashlib
import re
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from predictions.ml import LABELS, UNSURE


class Expression(models.TextChoices):
    ANGRY = "angry"
    DISGUST = "disgust"
    FEAR = "fear"
    HAPPY = "happy"
    SAD = "sad"
    SURPRISE = "surprise"
    NEUTRAL = "neutral"


assert tuple(Expression.values) == LABELS, "Expression must list mlcore's labels in the same order"

PREDICTED_LABELS = [*Expression.choices, (UNSURE, "Unsure")]


class LabelStatus(models.TextChoices):
    """What became of a label given to an image; defined here, below every app that reads it."""

    QUEUED = "queued"  # waiting for consensus or for the learning job
    LEARNED = "learned"  # a version learned from it and became live
    HELD_BACK = "held_back"  # a version learned from it but the forgetting guard kept it off live
    OUTVOTED = "outvoted"  # the image's consensus went to another label (only with several annotators)


COUNTED = (LabelStatus.LEARNED, LabelStatus.HELD_BACK)  # labels that settled their image: learned from


class Unusable(models.TextChoices):
    """Why an annotator took a shared photo out of labeling and training."""

    NO_FACE = "no_face", "No usable face"
    NOT_INFANT = "not_infant", "Not an infant"


CONTENT_NAME = re.compile(r"[0-9a-f]{64}\.jpg")


def content_name(data: bytes) -> str:
    """A stored image's file name: the SHA-256 of its cleaned bytes, so nothing a user sent ends up in it."""
    return f"{hashlib.sha256(data).hexdigest()}.jpg"


def upload_path(instance: Prediction, filename: str) -> str:
    if not CONTENT_NAME.fullmatch(filename):
        raise ValueError("an upload is stored under content_name() of its bytes, never a name from the request")
    return f"uploads/{filename}"


class Prediction(models.Model):
    """An uploaded image and what the model that saw it predicted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    image = models.FileField(upload_to=upload_path, max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    label = models.CharField(max_length=16, choices=PREDICTED_LABELS)
    top_label = models.CharField(max_length=16, choices=Expression.choices)
    probabilities = models.JSONField()
    uncertainty = models.FloatField()
    model_version = models.CharField(max_length=32)
    face_box = models.JSONField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    # The parent's choice: annotators may see the photo and the model may learn from it. Without it the
    # photo is only predicted and shown to its uploader (read through selectors.predictions_usable_for_learning).
    consent = models.BooleanField(default=False)
    # Set by an annotator: the photo leaves the queue and training but stays counted (and exported).
    unusable = models.CharField(max_length=16, choices=Unusable.choices, blank=True, default="")
    unusable_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(uncertainty__gte=0) & Q(uncertainty__lte=1), name="prediction_uncertainty_0_1"
            ),
            models.CheckConstraint(
                condition=Q(unusable="") | Q(unusable__in=Unusable.values), name="prediction_unusable_is_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.model_version}) {self.id}"

    @property
    def is_unsure(self) -> bool:
        return self.label == UNSURE

    @property
    def face_found(self) -> bool:
        return self.face_box is not None


class ImageEmbedding(models.Model):
    """An image's embedding under one extractor version, so it is computed once."""

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="embeddings")
    extractor_id = models.CharField(max_length=64)
    vector = models.BinaryField()
    face_box = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prediction", "extractor_id"], name="one_embedding_per_extractor"),
        ]

    def __str__(self) -> str:
        return f"embedding of {self.prediction_id} by {self.extractor_id}"
