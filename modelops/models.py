"""The audit of every live-alias move, and the full retrains started from the dashboard."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelChange(models.Model):
    """An audit entry: who or what moved the live alias, from which version to which, and why."""

    class Action(models.TextChoices):
        PROMOTE = "promote"
        ROLLBACK = "rollback"
        BOOTSTRAP = "bootstrap"  # the first model of a deployment
        TRAIN = "train"  # a full training or a dashboard retrain that passed its guard
        LEARN = "learn"  # an online label that passed the forgetting guard
        UNDO = "undo"  # a label taken back: live returns to the version before it
        UNLEARN = "unlearn"  # a learned photo deleted or its consent withdrawn: the head refitted without it
        CONSOLIDATE = "consolidate"  # the head refitted on every label plus replay, passed the guard

    action = models.CharField(max_length=16, choices=Action.choices)
    version = models.CharField(max_length=32)
    previous_version = models.CharField(max_length=32, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "predictions_modelchange"  # the table kept its name when model operations became an app
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.previous_version or '∅'} → {self.version}"


class TrainingJob(models.Model):
    """A full retrain started from the dashboard; its row is the progress a reopened page shows."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    LABELED_OPTION = "labeled"  # in ``options``: the images labeled to consensus when it was queued
    AFTER_LABELS_OPTION = "after_labels"  # in ``options``: started by itself, INFANTINO_RETRAIN_EVERY labels on

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # "active" while queued or running, NULL after: the unique constraint allows one retrain at a time.
    active_slot = models.CharField(max_length=8, null=True, blank=True, unique=True, default="active")
    options = models.JSONField(default=dict)
    progress = models.JSONField(default=dict)  # the last progress event: stage, step, total, epoch, loss, …
    cancel_requested = models.BooleanField(default=False)
    result_version = models.CharField(max_length=32, blank=True)
    promoted = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)  # the heartbeat: every progress event saves the row
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "predictions_trainingjob"
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(active_slot__isnull=True) | Q(status__in=["queued", "running"]),
                name="training_job_active_slot_only_while_active",
            ),
        ]

    def __str__(self) -> str:
        return f"retrain #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
