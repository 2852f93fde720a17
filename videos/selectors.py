"""Reads for clips: whose they are, what they hold, when retention deletes them."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse

from predictions.ml import LABELS
from videos.models import Video
from videos.timeline import Segment, Summary, summarise


def videos_owned(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> QuerySet[Video]:
    """This person's clips, as for photos: by account when signed in, and by browser session (never an empty key)."""
    mine = Q(session_key=session_key) if session_key else Q(pk__in=[])
    if user.is_authenticated:
        mine |= Q(uploaded_by=user)
    return Video.objects.filter(mine)


def video_get_owned(*, video_id: str, user: AbstractBaseUser | AnonymousUser, session_key: str) -> Video | None:
    """The clip if this person uploaded it; anyone else gets None, exactly as for a clip that does not exist."""
    try:
        return videos_owned(user=user, session_key=session_key).filter(pk=video_id).first()
    except ValidationError:  # not a UUID
        return None


def video_get(*, video_id: str) -> Video | None:
    """Any clip by id, for the background job; requests go through ``video_get_owned``."""
    try:
        return Video.objects.filter(pk=video_id).first()
    except ValidationError:
        return None


def videos_recent(*, user: AbstractBaseUser | AnonymousUser, session_key: str, limit: int = 10) -> QuerySet[Video]:
    return videos_owned(user=user, session_key=session_key)[:limit]


def videos_expired(*, now: datetime) -> QuerySet[Video]:
    """Clips past retention: their parent did not share them, uploaded ``INFANTINO_RETENTION_DAYS`` ago."""
    cutoff = now - timedelta(days=settings.INFANTINO_RETENTION_DAYS)
    return Video.objects.filter(consent=False, created__lt=cutoff)


def video_deletion_due(*, video: Video) -> datetime | None:
    """When retention deletes this clip; None when it is kept (shared for labeling)."""
    return None if video.consent else video.created + timedelta(days=settings.INFANTINO_RETENTION_DAYS)


def video_file_url(video: Video) -> str:
    """Where the page's player fetches the clip: the access-checked view here, a short-lived presigned URL on S3."""
    if settings.SERVE_MEDIA:
        return reverse("videos:file", kwargs={"video_id": video.pk})
    return video.file.url


def video_payload(video: Video) -> dict[str, Any]:
    """``GET /api/videos/<id>/``: the clip's state and, once analysed, its frames and segments."""
    return {
        "id": str(video.pk),
        "status": video.status,
        "duration_s": video.duration_s,
        "fps": video.fps,
        "model_version": video.model_version or None,
        "frames": video.frames,
        "segments": video.segments,
        "error": video.error or None,
        "progress": round(video.progress, 3),
        "seconds_left": None if video.seconds_left is None else round(video.seconds_left),
        "consent": video.consent,
        "deletion_due": video_deletion_due(video=video),
        "playable": video.playable,
    }


def video_progress_payload(video: Video) -> dict[str, Any]:
    """The progress message the uploader's pages receive over ``/ws/models/``."""
    return {
        "type": "video.progress",
        "video": {
            "id": str(video.pk),
            "status": video.status,
            "percent": round(100 * video.progress),
            "seconds_left": None if video.seconds_left is None else round(video.seconds_left),
            "error": video.error or None,
        },
    }


CSV_COLUMNS = ["t", "face", "x", "y", "width", "height", "label", "unsure", *LABELS]


def video_timeline_csv(video: Video) -> str:
    """One row per analysed frame: time, the face's box (empty without a face), label and the seven probabilities."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for frame in video.frames:
        face = frame["face"] or ["", "", "", ""]
        probabilities = frame["probabilities"] or {}
        writer.writerow(
            [
                f"{frame['t']:.3f}",
                "yes" if frame["face"] else "no",
                *face,
                frame["label"] or "",
                "" if frame["label"] is None else ("yes" if frame["unsure"] else "no"),
                *(f"{probabilities[label]:.4f}" if label in probabilities else "" for label in LABELS),
            ]
        )
    return out.getvalue()


def video_summary(video: Video) -> Summary:
    return summarise([Segment(**segment) for segment in video.segments])


def video_frame_at(video: Video, t: float) -> dict[str, Any] | None:
    """The analysed frame nearest to ``t`` (within one frame's time) that found the face; None if none did."""
    step = 1.0 / video.fps
    near = [frame for frame in video.frames if frame["face"] and abs(frame["t"] - t) <= step]
    return min(near, key=lambda frame: abs(frame["t"] - t), default=None)
