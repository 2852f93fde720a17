"""Full retrains started from the dashboard: one at a time, progress streamed, promoted only past the guard."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import jobs
from modelops.events import broadcast_training
from modelops.models import ModelChange, TrainingJob
from modelops.selectors import training_job_payload
from modelops.services.alias import ModelChangeError, live_version_move
from modelops.services.training_data import training_folder_build
from predictions.ml import DataFolders, ProgressEvent, Trained, TrainingCancelled, TrainingRun, backend, data_folders
from predictions.models import Prediction
from predictions.selectors import predictions_labeled_to_consensus, predictions_labeled_to_consensus_count

logger = logging.getLogger(__name__)

JOB = "modelops.tasks.run_retrain"


class RetrainRefused(RuntimeError):
    """A retrain cannot start now; the message says why."""


def retrain_start(*, user: AbstractBaseUser | None, options: dict[str, Any]) -> TrainingJob:
    """Queue a full retrain; refused while another one is queued or running."""
    _retire_stale_jobs()
    options = {**options, TrainingJob.LABELED_OPTION: predictions_labeled_to_consensus_count()}
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
    transaction.on_commit(lambda: jobs.enqueue(JOB, job_id=job.pk))
    return job


def retrain_cancel(*, job_id: int) -> TrainingJob:
    """Ask a queued or running retrain to stop at its next step."""
    job = TrainingJob.objects.get(pk=job_id)
    if not job.is_active:
        raise RetrainRefused(f"Retrain #{job.pk} has already {job.status}.")
    TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    return job


def retrain_resume_orphans() -> list[TrainingJob]:
    """Queue again, from their checkpoints, the retrains a stopped server left running; called as a server starts."""
    if settings.INFANTINO_JOB_RUNNER == "celery":
        return []  # a Celery worker may still own them; _retire_stale_jobs frees the slot of a dead one
    # The thread and inline runners run jobs inside the server process: a new process means nobody runs these.
    orphans = list(TrainingJob.objects.filter(active_slot__isnull=False))
    for job in orphans:
        # ``updated`` is the heartbeat _retire_stale_jobs reads: an orphan from yesterday is not dead, it is queued.
        TrainingJob.objects.filter(pk=job.pk).update(status=TrainingJob.Status.QUEUED, updated=timezone.now())
        job.refresh_from_db()
        logger.info("retrain #%s was cut short by a restart: it resumes from its last checkpoint", job.pk)
        transaction.on_commit(lambda pk=job.pk: jobs.enqueue(JOB, job_id=pk))
    return orphans


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
        live_before = backend().live_version()
        trained = backend().train(_training_run(job, reporter))
    except TrainingCancelled:
        return _finish(job, TrainingJob.Status.CANCELLED, "Cancelled.")
    except Exception as exc:
        logger.exception("retrain #%s failed", job.pk)
        return _finish(job, TrainingJob.Status.FAILED, f"Training failed: {exc}")
    job.result_version = trained.version
    return _finish(job, TrainingJob.Status.SUCCEEDED, _promote_if_better(job, trained, live_before=live_before))


@dataclass(frozen=True)
class TrainingSources:
    """What a retrain learns from: the data folder's FER2013 CSV and infant photos, and the images users labeled."""

    data_dir: Path
    found: DataFolders
    labeled: list[tuple[Prediction, str]]

    @property
    def has_infant_images(self) -> bool:
        return self.found.infant_dir is not None or bool(self.labeled)


def training_sources(*, data_dir: str | None = None) -> TrainingSources:
    """The data under ``data_dir`` (INFANTINO_DATA_DIR by default) and every image users labeled to consensus."""
    root = Path(data_dir or settings.INFANTINO_DATA_DIR or "")
    return TrainingSources(data_dir=root, found=data_folders(root), labeled=predictions_labeled_to_consensus())


def _training_run(job: TrainingJob, reporter: _ProgressReporter) -> TrainingRun:
    """The data folder's FER2013 CSV, and its infant photos joined by every image users labeled to consensus."""
    from predictions.ml.training import has_checkpoint  # here, not above: torch loads only where a job trains

    sources = training_sources(data_dir=job.options.get("data_dir"))
    if not sources.has_infant_images:
        raise FileNotFoundError(
            f"no infant images to train on: {sources.data_dir / 'infant'} is missing and nobody has labeled any"
        )
    work_dir = Path(settings.VAR_DIR) / "training" / f"retrain-{job.pk}"
    images = work_dir / "images"
    resume = has_checkpoint(work_dir)
    if not (resume and images.is_dir()):  # a resumed run keeps the images it began with: its splits stay the same
        training_folder_build(dataset=sources.found.infant_dir, labeled=sources.labeled, target=images)
    return TrainingRun(
        work_dir=work_dir,
        cache_dir=Path(settings.VAR_DIR) / "cache" / "faces",  # the starter's face crops, found again
        fer_csv=sources.found.fer_csv,
        image_dir=images,
        options={
            "preset": "tiny" if job.options.get("preset") == "tiny" else "full",
            "threads": settings.INFANTINO_TRAIN_THREADS,
            **({"resume": True} if resume else {}),
        },
        tags={
            "started_from": _started_from(job),
            "user_labels": str(len(sources.labeled)),
        },
        progress=reporter,
        should_stop=reporter.should_stop,
    )


def _started_from(job: TrainingJob) -> str:
    if job.options.get("autotrain"):
        return "autotrain"
    return "labels" if job.options.get(TrainingJob.AFTER_LABELS_OPTION) else "dashboard"


def _promote_if_better(job: TrainingJob, trained: Trained, *, live_before: str | None) -> str:
    """Make the new version live if the forgetting guard passes it; the job's closing message either way."""
    verdict = backend().retrain_verdict(candidate=trained.version, live=live_before)
    if not verdict.passed:
        return f"Version {trained.version} registered; not promoted (promote it by hand if you wish): {verdict.reason}"
    try:
        live_version_move(
            version=trained.version,
            action=ModelChange.Action.TRAIN,
            user=job.started_by,
            by="retrain guard",
            reason=f"retrain #{job.pk}: {verdict.reason}",
        )
    except ModelChangeError as error:
        return f"Version {trained.version} registered; it passed the guard but cannot go live: {error}"
    job.promoted = True
    return f"Version {trained.version} registered; promoted: {verdict.reason}"


def _finish(job: TrainingJob, status: TrainingJob.Status, message: str) -> TrainingJob:
    job.status, job.message, job.finished, job.active_slot = status, message, timezone.now(), None
    if status == TrainingJob.Status.SUCCEEDED:
        job.progress = {**job.progress, "fraction": 1.0, "stage": "done"}
    job.save()
    broadcast_training(training_job_payload(job))
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

    def __call__(self, event: ProgressEvent) -> None:
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
            "eta_seconds": event.metrics.get("overall_eta_seconds", event.eta_seconds),
            "fraction": round(_overall_fraction(event), 4),
            "stage_fraction": round(event.fraction, 4),
        }
        self.job.save(update_fields=["progress", "updated"])
        broadcast_training(training_job_payload(self.job))

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.checked_at > 1.0:
            self.checked_at = now
            self.cancelled = TrainingJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self.cancelled


def _overall_fraction(event: ProgressEvent) -> float:
    overall = event.metrics.get("overall_fraction") if event.metrics else None
    return float(overall) if overall is not None else event.fraction
