"""Writes for clips: accept an upload, analyse it (the background job), send a moment to the queue, delete."""

from __future__ import annotations

import io
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import av
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from common.api_errors import ServiceUnavailable
from common.jobs import enqueue
from modelops.events import broadcast_to_owner
from predictions import ml
from predictions.models import Prediction
from predictions.services import Deleted, prediction_consent_set, prediction_create, predictions_delete
from videos import media, selectors, timeline
from videos.media import InvalidClip
from videos.models import Moment, Video

logger = logging.getLogger(__name__)

ANALYSE = "videos.tasks.analyse"
NO_VIDEO = "No clip was sent: attach the video as the form field 'video'."
BATCH = 8  # frames per call to the model: the live model's lock is held for one batch, so photos wait little
PROGRESS_EVERY_S = 0.5  # the uploader's page hears of progress at most this often
MOMENT_MARGIN = 0.5  # of the face's side around it: the photo made from a moment keeps room for its face to be found


# ---- upload ----------------------------------------------------------------------------------------------------
def video_create(
    *,
    upload: UploadedFile | None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    session_key: str = "",
    consent: bool = False,
    fps: int | None = None,
) -> Video:
    """Check the clip, store a clean copy (video stream only, no metadata) and queue its analysis; all or nothing."""
    if upload is None:
        raise InvalidClip(NO_VIDEO)
    limit = settings.INFANTINO_VIDEO_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidClip(f"The clip is larger than {limit // (1024 * 1024)} MB.")
    fps = settings.INFANTINO_VIDEO_FPS if fps is None else fps
    with _upload_on_disk(upload) as path, tempfile.TemporaryDirectory(prefix="infantino-clip-") as work:
        if path.stat().st_size > limit:
            raise InvalidClip(f"The clip is larger than {limit // (1024 * 1024)} MB.")
        info = media.probe(path, max_seconds=settings.INFANTINO_VIDEO_MAX_SECONDS)
        clean = Path(work) / f"clip.{info.extension}"
        try:
            media.clean_copy(path, clean, info)
        except (av.FFmpegError, ValueError):
            raise InvalidClip(media.NOT_A_VIDEO) from None
        video = Video(
            content_type=media.CONTENT_TYPES[info.extension],
            playable=info.playable,
            width=info.width,
            height=info.height,
            duration_s=info.duration_s,
            fps=fps,
            uploaded_by=user if user is not None and user.is_authenticated else None,
            session_key=session_key,
            consent=consent,
        )
        storage = video.file.storage
        name = video.file.field.generate_filename(video, clean.name)
        try:
            with clean.open("rb") as handle:
                name = storage.save(name, File(handle))
        except Exception as exc:
            logger.warning("the clip store failed (%s: %s); the upload was refused", type(exc).__name__, exc)
            raise ServiceUnavailable("The file store cannot be reached right now; nothing was saved.") from exc
    video.file.name = name
    try:
        with transaction.atomic():
            video.save(force_insert=True)
            transaction.on_commit(lambda: enqueue(ANALYSE, video_id=str(video.pk)))
    except Exception:
        storage.delete(name)
        raise
    return video


@contextmanager
def _upload_on_disk(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file (the decoder reads paths): Django's own temporary file, or a copy of one held in memory."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        yield Path(temporary())
        return
    with tempfile.NamedTemporaryFile(prefix="infantino-upload-") as copy:
        upload.seek(0)
        shutil.copyfileobj(upload, copy)
        copy.flush()
        yield Path(copy.name)


@contextmanager
def _stored_on_disk(field: FieldFile) -> Iterator[Path]:
    """A stored clip as a local file: the media folder's own, or a download from S3 for this job."""
    try:
        yield Path(field.storage.path(field.name))
        return
    except NotImplementedError:
        pass
    suffix = Path(field.name).suffix
    with tempfile.NamedTemporaryFile(prefix="infantino-clip-", suffix=suffix) as copy:
        with field.storage.open(field.name, "rb") as source:
            shutil.copyfileobj(source, copy)
        copy.flush()
        yield Path(copy.name)


# ---- analysis (the background job) ------------------------------------------------------------------------------
def video_analyse(*, video_id: str) -> None:
    """Sample the clip's frames, follow the infant's face, score it in batches with the live model, smooth segments.

    Safe to run twice: a clip already analysed is left alone, one cut short starts again. No model yet: it raises,
    so the job runner tries again later.
    """
    video = selectors.video_get(video_id=video_id)
    if video is None or video.status == Video.Status.DONE:
        return
    _state(video, status=Video.Status.PROCESSING, progress=0.0, seconds_left=None, error="")
    expected = max(1, math.floor(video.duration_s * video.fps) + 1)
    tracker = timeline.FaceTracker()
    frames: list[dict[str, Any]] = []
    versions: list[str] = []
    started = last_told = time.monotonic()
    try:
        with _stored_on_disk(video.file) as path:
            sampled = media.sample_frames(path, fps=video.fps, max_seconds=settings.INFANTINO_VIDEO_MAX_SECONDS)
            for batch in _batches(sampled, BATCH):
                outcomes = ml.backend().predict_faces([frame.image for frame in batch], follow=tracker.follow)
                for frame, outcome in zip(batch, outcomes, strict=True):
                    frames.append(_frame_json(frame, outcome))
                    if outcome is not None and outcome.prediction.model_version not in versions:
                        versions.append(outcome.prediction.model_version)
                if time.monotonic() - last_told >= PROGRESS_EVERY_S:
                    last_told = time.monotonic()
                    done = min(len(frames) / expected, 0.99)
                    rate = len(frames) / max(last_told - started, 1e-6)
                    _state(video, progress=done, seconds_left=max(0.0, (expected - len(frames)) / rate))
    except ml.ModelUnavailable:
        _state(video, status=Video.Status.QUEUED, progress=0.0, seconds_left=None)
        raise
    except (InvalidClip, av.FFmpegError) as exc:
        _state(video, status=Video.Status.FAILED, error=_failure(exc))
        return
    if not frames:
        _state(video, status=Video.Status.FAILED, error="The video has no frames.")
        return
    video.frames = frames
    video.segments = [s.as_json() for s in timeline.segments(frames, fps=video.fps, duration_s=video.duration_s)]
    video.model_version = ",".join(versions) or (ml.backend().live_version() or "")
    video.finished = timezone.now()
    video.save(update_fields=["frames", "segments", "model_version", "finished"])
    _state(video, status=Video.Status.DONE, progress=1.0, seconds_left=0.0)
    logger.info("analysed clip %s: %d frames in %.1f s", video.pk, len(frames), time.monotonic() - started)


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, InvalidClip) else "The clip could not be decoded to its end."


def _batches(frames: Iterable[media.Frame], size: int) -> Iterator[list[media.Frame]]:
    iterator = iter(frames)
    while batch := list(islice(iterator, size)):
        yield batch


def _frame_json(frame: media.Frame, outcome: ml.Outcome | None) -> dict[str, Any]:
    if outcome is None or outcome.prediction.face_box is None:
        return {"t": frame.t, "label": None, "probabilities": None, "face": None, "unsure": False}
    result = outcome.prediction
    return {
        "t": frame.t,
        "label": result.top_label,
        "probabilities": {label: round(p, 4) for label, p in result.probabilities.items()},
        "face": [round(v * frame.scale) for v in result.face_box],  # in the clip's pixels
        "unsure": result.unsure,
    }


def _state(video: Video, **changes: Any) -> None:
    """Record the clip's state and tell its uploader's open pages."""
    for name, value in changes.items():
        setattr(video, name, value)
    video.save(update_fields=list(changes))
    broadcast_to_owner(
        selectors.video_progress_payload(video), user_id=video.uploaded_by_id, session_key=video.session_key
    )


# ---- "Label this moment" ---------------------------------------------------------------------------------------
class MomentRefused(Exception):
    """A moment that cannot go to the queue; the message is for a person."""


class NotShared(MomentRefused):
    """The clip's parent did not let annotators see it."""


def moment_create(*, video: Video, t: float) -> Moment:
    """The face in the analysed frame nearest ``t`` goes to the labeling queue as a photo shared as the clip is."""
    if not video.consent:
        raise NotShared(
            "This clip is not shared for labeling: let the annotators see it first (consent), then label its moments."
        )
    if not video.analysed:
        raise MomentRefused("The clip is not analysed yet.")
    frame = selectors.video_frame_at(video, t)
    if frame is None:
        raise MomentRefused("No face was found at this moment of the clip.")
    existing = video.moments.filter(t=frame["t"]).first()
    if existing is not None:
        return existing
    with _stored_on_disk(video.file) as path:
        picture = media.frame_at(path, frame["t"])
    face = ml.square_crop(picture, tuple(frame["face"]), margin=MOMENT_MARGIN)
    buffer = io.BytesIO()
    face.save(buffer, format="JPEG", quality=92)
    photo = SimpleUploadedFile("moment.jpg", buffer.getvalue(), content_type="image/jpeg")
    prediction = prediction_create(
        upload=photo, user=video.uploaded_by, session_key=video.session_key, consent=video.consent
    )
    try:
        with transaction.atomic():
            return Moment.objects.create(video=video, prediction=prediction, t=frame["t"])
    except IntegrityError:  # the same moment sent twice at once: keep the first
        predictions_delete(predictions=Prediction.objects.filter(pk=prediction.pk))
        return video.moments.get(t=frame["t"])


def video_consent_set(*, video: Video, consent: bool) -> Video:
    """The parent's choice for the clip and the photos made from it; withdrawn, the live model forgets those learned."""
    with transaction.atomic():
        Video.objects.filter(pk=video.pk).update(consent=consent)
        for moment in video.moments.select_related("prediction"):
            prediction_consent_set(prediction=moment.prediction, consent=consent)
    video.consent = consent
    return video


# ---- deletion --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoDeleted:
    videos: int
    photos: Deleted  # the moments sent to the queue, with their labels


def video_delete(*, video: Video) -> VideoDeleted:
    """The clip, its file, frames and timeline, and every photo made from it (with the unlearning photos trigger)."""
    with transaction.atomic():
        photos = predictions_delete(predictions=Prediction.objects.filter(moment__video=video))
        name = video.file.name
        storage = video.file.storage
        Video.objects.filter(pk=video.pk).delete()
        try:
            if name:
                storage.delete(name)
        except Exception as exc:
            logger.warning("the clip store failed to delete (%s: %s)", type(exc).__name__, exc)
            raise ServiceUnavailable("The file store cannot be reached right now; nothing was deleted.") from exc
    return VideoDeleted(videos=1, photos=photos)


def videos_expired_delete(*, now: datetime | None = None) -> int:
    """Retention: clips shared with nobody go ``INFANTINO_RETENTION_DAYS`` after their upload, as photos do."""
    expired = list(selectors.videos_expired(now=now or timezone.now()))
    for video in expired:
        video_delete(video=video)
    if expired:
        logger.info("retention deleted %d clips shared with nobody", len(expired))
    return len(expired)


def videos_of_person_delete(*, user: AbstractBaseUser) -> int:
    """ "My data" and account deletion: every clip the person uploaded, with the photos sent from them."""
    clips = list(Video.objects.filter(uploaded_by=user))
    for video in clips:
        video_delete(video=video)
    return len(clips)


def videos_claim(*, user: AbstractBaseUser, session_key: str) -> int:
    """On sign-in, the clips this browser uploaded anonymously move to the account."""
    if not session_key:
        return 0
    return Video.objects.filter(session_key=session_key, uploaded_by__isnull=True).update(uploaded_by=user)
