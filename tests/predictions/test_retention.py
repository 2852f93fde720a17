"""Retention: a photo shared with nobody and never labeled is deleted INFANTINO_RETENTION_DAYS after its upload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from annotations.models import Annotation
from common import jobs
from predictions import tasks
from predictions.models import Prediction
from predictions.services import prediction_create
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def photo(seed: int, *, consent: bool = False) -> Prediction:
    return prediction_create(upload=SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(size=64, seed=seed)), consent=consent)


def test_retention_deletes_an_old_unshared_unlabeled_photo_and_keeps_labeled_shared_and_recent_ones(
    settings, fake_backend, django_user_model, isolated_media, monkeypatch
):
    settings.INFANTINO_RETENTION_DAYS = 30
    private, labeled, shared = photo(1), photo(2), photo(3, consent=True)
    Annotation.objects.create(image=labeled, label="sad", annotator=django_user_model.objects.create_user("nurse"))
    tasks.delete_expired()
    assert Prediction.objects.count() == 3  # nothing is 30 days old yet

    later = timezone.now() + timedelta(days=31)
    monkeypatch.setattr(timezone, "now", lambda: later)
    recent = photo(4)
    tasks.delete_expired()

    assert set(Prediction.objects.values_list("pk", flat=True)) == {labeled.pk, shared.pk, recent.pk}
    assert not (isolated_media / private.image.name).exists()
    assert (isolated_media / labeled.image.name).exists()


def test_retention_runs_as_a_periodic_job():
    assert jobs.periodic_jobs()["predictions.tasks.delete_expired"] <= 24 * 3600
