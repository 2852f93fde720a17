from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from predictions.models import Prediction

MAX_FPS = 10


def clip_path(instance: Video, filename: str) -> str:
    """A clip is stored under its own id: nothing from the request ends up in the name."""
    extension = filename.rpartition(".")[2]
    return f"videos/{instance.pk}.{extension}"


class Video(models.Model):
    """An uploaded clip (a clean copy: its video stream only, no metadata) and its expression timeline."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(upload_to=clip_path, max_length=200)
    content_type = models.CharField(max_length=32)
    playable = models.BooleanField(default=True)  # a codec browsers play (H.264, VP8, VP9, AV1)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration_s = models.FloatField()
    fps = models.PositiveSmallIntegerField()  # frames analysed per second
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)  # 0..1 of the frames analysed
    seconds_left = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)  # several, comma-separated, if live moved meanwhile
    frames = models.JSONField(default=list)  # [{"t", "label", "probabilities", "face", "unsure"}]
    segments = models.JSONField(default=list)  # [{"start", "end", "label"}]
    error = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    consent = models.BooleanField(default=False)  # as for photos: annotators may see its moments, the model learn
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=Q(fps__gte=1) & Q(fps__lte=MAX_FPS), name="video_fps_1_to_max"),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="video_progress_0_1"),
            models.CheckConstraint(condition=Q(duration_s__gte=0), name="video_duration_not_negative"),
        ]

    def __str__(self) -> str:
        return f"clip {self.id} ({self.status})"

    @property
    def analysed(self) -> bool:
        return self.status == self.Status.DONE


class Moment(models.Model):
    """A frame's face sent to the labeling queue as a photo ("Label this moment"); it goes when the clip goes."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="moments")
    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="moment")
    t = models.FloatField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["t"]
        constraints = [models.UniqueConstraint(fields=["video", "t"], name="one_moment_per_frame")]

    def __str__(self) -> str:
        return f"moment {self.t:.2f} s of {self.video_id}"
