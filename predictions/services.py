"""Writes for predictions: validate an upload, predict, store the image and the row together."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from infantino_site import jobs
from infantino_site.api_errors import ServiceUnavailable
from mlcore.imageio import DecodedImage, InvalidImage, decode_image, encode_clean
from predictions import ml, selectors
from predictions.models import ImageEmbedding, ModelChange, Prediction, TrainingJob, content_name

logger = logging.getLogger(__name__)


def read_upload(upload: UploadedFile | None) -> DecodedImage:
    """Read and fully decode an uploaded file; raises ``InvalidImage`` with a reason for a person."""
    if upload is None:
        raise InvalidImage("No image was sent: attach the photo as the form field 'image'.")
    limit = settings.INFANTINO_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidImage(f"The file is larger than {limit // (1024 * 1024)} MB.")
    data = upload.read(limit + 1)
    return decode_image(data, max_bytes=limit, max_pixels=settings.INFANTINO_MAX_PIXELS)


def prediction_create(
    *,
    upload: UploadedFile | None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    session_key: str = "",
) -> Prediction:
    """Validate, predict, then store the re-encoded image (no EXIF) and the row; all or nothing."""
    decoded = read_upload(upload)
    outcome = ml.predict(decoded.image)
    result = outcome.prediction
    prediction = Prediction(
        width=decoded.image.width,
        height=decoded.image.height,
        label=result.label,
        top_label=result.top_label,
        probabilities=result.probabilities,
        uncertainty=min(1.0, max(0.0, result.uncertainty)),
        model_version=result.model_version,
        face_box=list(result.face_box) if result.face_box else None,
        uploaded_by=user if user is not None and user.is_authenticated else None,
        session_key=session_key,
    )
    data = encode_clean(decoded.image)
    name = prediction.image.field.generate_filename(prediction, content_name(data))
    created = _image_store(storage=prediction.image.storage, name=name, data=data)
    prediction.image.name = name
    try:
        with transaction.atomic():
            prediction.save(force_insert=True)
            embedding_store(
                prediction=prediction,
                extractor_id=outcome.extractor_id,
                vector=outcome.embedding,
                face_box=prediction.face_box,
            )
    except Exception:
        # No row points at the object now: remove it unless it was already there for another upload.
        if created and not Prediction.objects.filter(image=name).exists():
            _image_discard(storage=prediction.image.storage, name=name)
        raise
    return prediction


class StorageUnavailable(ServiceUnavailable):
    """The image store (S3 or the media folder) cannot be written to; nothing was saved."""


def _image_store(*, storage: Storage, name: str, data: bytes) -> bool:
    """Store ``data`` under its content name unless it is there already; True when this call wrote it."""
    try:
        if storage.exists(name):
            return False  # the same photo again: its bytes, hence its name, are the same; never overwrite
        saved = storage.save(name, ContentFile(data))
    except Exception as exc:
        logger.warning("the image store failed (%s: %s); the upload was refused", type(exc).__name__, exc)
        raise StorageUnavailable("The image store cannot be reached right now; nothing was saved. Try again.") from exc
    if saved != name:  # the same photo arrived twice at once: keep the copy under its content name
        _image_discard(storage=storage, name=saved)
        return False
    return True


def _image_discard(*, storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("could not delete the stored image %s: it is left behind", name)


def embedding_store(
    *, prediction: Prediction, extractor_id: str, vector: np.ndarray, face_box: list[int] | None
) -> ImageEmbedding:
    embedding, _ = ImageEmbedding.objects.update_or_create(
        prediction=prediction,
        extractor_id=extractor_id,
        defaults={"vector": np.asarray(vector, dtype=np.float32).tobytes(), "face_box": face_box},
    )
    return embedding


# ---- the live alias: promote and roll back ----------------------------------------------------------
class ModelChangeError(ValueError):
    """The requested change of the live version cannot be made; the message says why."""


def model_promote(
    *,
    version: str,
    user: AbstractBaseUser | None,
    reason: str = "",
    action: ModelChange.Action = ModelChange.Action.PROMOTE,
    by: str | None = None,
) -> ModelChange:
    """Make ``version`` live: move the MLflow alias, record who and why, swap and tell every process.

    ``by`` names the promoter on the MLflow version when it is not ``user`` (the retrain's guard).
    """
    from mlcore.registry import ArtifactRefused, NoModel
    from predictions.events import broadcast_model_updated

    registry = ml.registry()
    try:
        registry.version_info(version)
    except NoModel:
        raise ModelChangeError(f"There is no model version {version}.") from None
    previous = registry.live_version() or ""
    if previous == version:
        raise ModelChangeError(f"Version {version} is already live.")
    try:
        ml.live_model.swap_to(version)  # loaded and checked before the alias moves: a refused version never goes live
    except ArtifactRefused as error:
        raise ModelChangeError(f"Version {version} cannot be served: {error}") from None
    registry.set_live(version, by=by if by is not None else (user.get_username() if user is not None else ""))
    change = ModelChange.objects.create(
        action=action, version=version, previous_version=previous, user=user, reason=reason.strip()
    )
    broadcast_model_updated(version)
    logger.info("%s: version %s is live (was %s)", action, version, previous or "none")
    return change


def model_rollback(*, user: AbstractBaseUser | None, reason: str = "") -> ModelChange:
    """Go back to the version that was live before the current one."""
    registry = ml.registry()
    live = registry.live_version()
    if live is None:
        raise ModelChangeError("No model is live, so there is nothing to roll back.")
    last_change = ModelChange.objects.filter(version=live).exclude(previous_version="").first()
    target = last_change.previous_version if last_change else registry.version_info(live).parent
    if not target:
        raise ModelChangeError(f"Version {live} has no earlier version to roll back to.")
    return model_promote(version=target, user=user, reason=reason, action=ModelChange.Action.ROLLBACK)


# ---- full retrains ------------------------------------------------------------------------------
class RetrainRefused(RuntimeError):
    """A retrain cannot start now; the message says why."""


def retrain_start(*, user: AbstractBaseUser | None, options: dict[str, Any]) -> TrainingJob:
    """Queue a full retrain; refused while another one is queued or running."""
    _retire_stale_jobs()
    try:
        with transaction.atomic():
            job = TrainingJob.objects.create(
                started_by=user, options=options, progress={"stage": "queued", "fraction": 0.0}
            )
    except IntegrityError:
        running = TrainingJob.objects.filter(active_slot__isnull=False).first()
        who = f" by {running.started_by.get_username()}" if running and running.started_by else ""
        raise RetrainRefused(
            f"A retrain is already {running.status if running else 'running'} (#{running.pk if running else '?'}, "
            f"started{who}); wait for it to finish or cancel it."
        ) from None
    transaction.on_commit(lambda: jobs.enqueue("predictions.tasks.run_retrain", job_id=job.pk))
    return job


def retrain_cancel(*, job_id: int) -> TrainingJob:
    """Ask a queued or running retrain to stop at its next step."""
    job = TrainingJob.objects.get(pk=job_id)
    if not job.is_active:
        raise RetrainRefused(f"Retrain #{job.pk} has already {job.status}.")
    TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    return job


def _retire_stale_jobs() -> None:
    """A job whose worker died (a restart, a killed process) would hold the slot for ever."""
    cutoff = timezone.now() - timedelta(seconds=settings.INFANTINO_RETRAIN_STALE_SECONDS)
    for job in TrainingJob.objects.filter(active_slot__isnull=False, updated__lt=cutoff):
        _finish(job, TrainingJob.Status.FAILED, "No progress for too long: the worker running it has stopped.")


def retrain_run(*, job_id: int) -> TrainingJob:
    """The job body: train, register, promote if the forgetting guard says the new version is better."""
    job = TrainingJob.objects.get(pk=job_id)
    if job.status != TrainingJob.Status.QUEUED:
        return job
    if job.cancel_requested:
        return _finish(job, TrainingJob.Status.CANCELLED, "Cancelled before it started.")
    job.status, job.started = TrainingJob.Status.RUNNING, timezone.now()
    job.save(update_fields=["status", "started", "updated"])
    reporter = _ProgressReporter(job)
    try:
        outcome = ml.retrain(
            options=job.options,
            labeled=_consensus_labels(),
            work_dir=settings.VAR_DIR / "training" / f"retrain-{job.pk}",
            progress=reporter,
            should_stop=reporter.should_stop,
        )
    except ml.TrainingCancelled:
        return _finish(job, TrainingJob.Status.CANCELLED, "Cancelled.")
    except Exception as exc:
        logger.exception("retrain #%s failed", job.pk)
        return _finish(job, TrainingJob.Status.FAILED, f"Training failed: {exc}")
    job.result_version = outcome.version
    guard = ml.guard_verdict(candidate=outcome.version, live=outcome.live_before)
    if guard.passed:
        model_promote(
            version=outcome.version,
            user=job.started_by,
            reason=f"retrain #{job.pk}: {guard.reason}",
            by="retrain guard",
        )
        job.promoted = True
    message = (
        f"Version {outcome.version} registered; "
        + ("promoted: " if guard.passed else "not promoted (promote it by hand if you wish): ")
        + guard.reason
    )
    return _finish(job, TrainingJob.Status.SUCCEEDED, message)


def _consensus_labels() -> list[tuple[Any, str]]:
    """Every image whose labels reached consensus, with that label: what a full retrain learns from users."""
    # Read through the reverse relation by name: predictions must not import the annotations app.
    rows = Prediction.objects.filter(annotations__status__in=["learned", "held_back"]).values_list(
        "pk", "annotations__label"
    )
    labels = dict(rows)
    return [(p.image, labels[p.pk]) for p in Prediction.objects.filter(pk__in=labels)]


def _finish(job: TrainingJob, status: TrainingJob.Status, message: str) -> TrainingJob:
    job.status, job.message, job.finished, job.active_slot = status, message, timezone.now(), None
    if status == TrainingJob.Status.SUCCEEDED:
        job.progress = {**job.progress, "fraction": 1.0, "stage": "done"}
    job.save()
    training_broadcast(job)
    return job


class _ProgressReporter:
    """Saves each progress event on the job row (throttled) and streams it to staff pages."""

    def __init__(self, job: TrainingJob, *, every_seconds: float = 0.5) -> None:
        self.job = job
        self.every_seconds = every_seconds
        self.sent_at = 0.0
        self.stage: str | None = None
        self.checked_at = 0.0
        self.cancelled = False

    def __call__(self, event: Any) -> None:
        now = time.monotonic()
        if event.stage == self.stage and now - self.sent_at < self.every_seconds and event.step != event.total:
            return
        self.stage, self.sent_at = event.stage, now
        self.job.progress = {
            "stage": event.stage,
            "step": event.step,
            "total": event.total,
            "epoch": event.epoch,
            "loss": event.loss,
            "metrics": event.metrics,
            "eta_seconds": event.eta_seconds,
            "fraction": round(_overall_fraction(event), 4),
            "stage_fraction": round(event.fraction, 4),
        }
        self.job.save(update_fields=["progress", "updated"])
        training_broadcast(self.job)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.checked_at > 1.0:
            self.checked_at = now
            self.cancelled = TrainingJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self.cancelled


def _overall_fraction(event: Any) -> float:
    overall = event.metrics.get("overall_fraction") if event.metrics else None
    return float(overall) if overall is not None else event.fraction


def training_broadcast(job: TrainingJob) -> None:
    from predictions.events import broadcast_training

    broadcast_training(training_job_payload(job))


def training_job_payload(job: TrainingJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "result_version": job.result_version,
        "promoted": job.promoted,
        "message": job.message,
        "cancel_requested": job.cancel_requested,
        "started_by": job.started_by.get_username() if job.started_by else None,
        "created": job.created.isoformat() if job.created else None,
        "finished": job.finished.isoformat() if job.finished else None,
    }


# ---- privacy: deleting images and everything derived from them ----------------------------------------
@dataclass(frozen=True)
class Deleted:
    predictions: int
    annotations: int
    embeddings: int
    files: int


def predictions_delete(*, predictions: QuerySet[Prediction]) -> Deleted:
    """Delete predictions with their embeddings and labels (so replay forgets them) and each file no one else uses.

    The files go inside the transaction: if storage refuses, no row is deleted and the caller may try again.
    """
    with transaction.atomic():
        rows = list(predictions.values_list("pk", "image"))
        names = {name for _, name in rows if name}
        _, per_model = Prediction.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        # Stored names may be derived from the content, so another prediction can share this file.
        still_used = set(Prediction.objects.filter(image__in=names).values_list("image", flat=True))
        orphans = sorted(names - still_used)
        storage = Prediction._meta.get_field("image").storage
        try:
            for name in orphans:
                storage.delete(name)
        except Exception as exc:
            logger.warning("the image store failed to delete (%s: %s)", type(exc).__name__, exc)
            raise ServiceUnavailable("The image store cannot be reached right now; nothing was deleted.") from exc
    logger.info("deleted %d predictions and %d stored files", len(rows), len(orphans))
    return Deleted(
        predictions=per_model.get("predictions.Prediction", 0),
        annotations=per_model.get("annotations.Annotation", 0),
        embeddings=per_model.get("predictions.ImageEmbedding", 0),
        files=len(orphans),
    )


def prediction_delete(*, prediction: Prediction) -> Deleted:
    return predictions_delete(predictions=Prediction.objects.filter(pk=prediction.pk))


def user_data_delete(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> Deleted:
    """Everything a person gave: their uploads (with others' labels on them) and the labels they gave."""
    with transaction.atomic():
        deleted = predictions_delete(predictions=selectors.predictions_owned(user=user, session_key=session_key))
        labels = 0
        if user.is_authenticated:
            # Through the reverse relation by name: predictions must not import the annotations app.
            labels, _ = user.annotations.all().delete()  # type: ignore[union-attr]
    return Deleted(
        predictions=deleted.predictions,
        annotations=deleted.annotations + labels,
        embeddings=deleted.embeddings,
        files=deleted.files,
    )
