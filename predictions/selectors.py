"""Reads for predictions and the live model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse

from accounts import roles
from predictions import ml
from predictions.models import ModelChange, Prediction, TrainingJob


def prediction_get(*, prediction_id: str) -> Prediction | None:
    """Any prediction by id, whoever owns it: for internal use; requests go through ``prediction_get_visible``."""
    return _first(Prediction.objects.all(), prediction_id)


def _first(predictions: QuerySet[Prediction], prediction_id: str) -> Prediction | None:
    try:
        return predictions.filter(pk=prediction_id).first()
    except ValidationError:  # not a UUID
        return None


def _owned(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> Q:
    """This person's uploads: by account when signed in, and by browser session (never by an empty key)."""
    mine = Q(session_key=session_key) if session_key else Q(pk__in=[])
    if user.is_authenticated:
        mine |= Q(uploaded_by=user)
    return mine


def predictions_owned(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> QuerySet[Prediction]:
    return Prediction.objects.filter(_owned(user=user, session_key=session_key))


def predictions_visible(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> QuerySet[Prediction]:
    """What this person may see: their own uploads, or every upload for annotators and admins."""
    if roles.sees_all_images(user):
        return Prediction.objects.all()
    return predictions_owned(user=user, session_key=session_key)


def prediction_get_visible(
    *, prediction_id: str, user: AbstractBaseUser | AnonymousUser, session_key: str
) -> Prediction | None:
    """None for a prediction this person may not see, exactly as for one that does not exist."""
    return _first(predictions_visible(user=user, session_key=session_key), prediction_id)


def prediction_get_deletable(
    *, prediction_id: str, user: AbstractBaseUser | AnonymousUser, session_key: str
) -> Prediction | None:
    """Only the uploader (account or session) or an admin may delete; annotators may only look."""
    owned = Prediction.objects.all() if roles.is_admin(user) else predictions_owned(user=user, session_key=session_key)
    return _first(owned, prediction_id)


def prediction_image_url(prediction: Prediction) -> str:
    """Where a page or an API client fetches the photo, asked only after the access check.

    The local folder is served only through the access-checked view; S3 hands out a short-lived presigned URL.
    """
    if settings.SERVE_MEDIA:
        return reverse("predictions:image", kwargs={"prediction_id": prediction.pk})
    return prediction.image.url


def predictions_recent(
    *, user: AbstractBaseUser | AnonymousUser, session_key: str, limit: int = 20
) -> QuerySet[Prediction]:
    """What this person uploaded: by account when signed in, else by browser session."""
    return predictions_owned(user=user, session_key=session_key)[:limit]


@dataclass(frozen=True)
class ModelSummary:
    version: str
    created: datetime
    metrics: dict[str, float]
    kind: str
    parent: str | None
    tags: dict[str, Any]


def live_model_summary() -> ModelSummary | None:
    """The live version's summary, None when none is trained; raises ``ml.ModelUnavailable`` while MLflow is down."""
    version = ml.live_version()
    if version is None:
        return None
    info = ml.registry().version_info(version)
    return ModelSummary(
        version=info.version,
        created=datetime.fromtimestamp(info.created_ms / 1000, tz=UTC),
        metrics=info.metrics,
        kind=info.tags.get("kind", ""),
        parent=info.parent,
        tags=info.tags,
    )


def live_model_notice() -> tuple[ModelSummary | None, str]:
    """For pages: the live model's summary (None if none is trained), or None and why MLflow cannot tell."""
    try:
        return live_model_summary(), ""
    except ml.ModelUnavailable as exc:
        return None, str(exc)


# ---- the model-version dashboard ---------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRow:
    version: str
    created: datetime
    kind: str
    parent: str | None
    is_live: bool
    promoted_by: str
    learned_from: str  # the labels (annotation ids / label) an online version learned from
    metrics: dict[str, float]


def model_versions() -> list[VersionRow]:
    """Every registered version, newest first."""
    return [
        VersionRow(
            version=info.version,
            created=datetime.fromtimestamp(info.created_ms / 1000, tz=UTC),
            kind=info.tags.get("kind", ""),
            parent=info.parent,
            is_live=info.is_live,
            promoted_by=info.tags.get("promoted_by", ""),
            learned_from=_learned_from(info.tags),
            metrics=info.metrics,
        )
        for info in ml.registry().versions()
    ]


def _learned_from(tags: dict[str, str]) -> str:
    label, annotations = tags.get("label", ""), tags.get("annotation_ids", "")
    if label and annotations:
        return f"{label} (annotation {annotations})"
    return label or annotations


@dataclass(frozen=True)
class VersionDetail:
    row: VersionRow
    params: dict[str, str]
    tags: dict[str, str]
    confusion: dict[str, list[list[int]]]  # domain → matrix (rows: true label, columns: predicted)
    lineage: list[str]  # this version, its parent, the parent's parent, …


def model_version_detail(*, version: str) -> VersionDetail | None:
    from mlcore.registry import NoModel

    registry = ml.registry()
    try:
        info = registry.version_info(version)
    except NoModel:
        return None
    rows = {row.version: row for row in model_versions()}
    lineage, cursor = [], info.version
    while cursor and cursor not in lineage and len(lineage) < 50:
        lineage.append(cursor)
        cursor = rows[cursor].parent if cursor in rows else None
    confusion = registry.version_json(version, "confusion.json") or {}
    return VersionDetail(
        row=rows[info.version], params=info.params, tags=info.tags, confusion=confusion, lineage=lineage
    )


def model_changes(*, limit: int = 20) -> QuerySet[ModelChange]:
    return ModelChange.objects.select_related("user")[:limit]


def training_job_current() -> TrainingJob | None:
    """The retrain that is queued or running, else the most recent one."""
    return (
        TrainingJob.objects.filter(active_slot__isnull=False).select_related("started_by").first()
        or TrainingJob.objects.select_related("started_by").first()
    )
