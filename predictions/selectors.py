"""Reads for predictions and the live model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from predictions import ml
from predictions.models import ModelChange, Prediction, TrainingJob


def prediction_get(*, prediction_id: str) -> Prediction | None:
    try:
        return Prediction.objects.filter(pk=prediction_id).first()
    except ValidationError:  # not a UUID
        return None


def predictions_recent(
    *, user: AbstractBaseUser | AnonymousUser, session_key: str, limit: int = 20
) -> QuerySet[Prediction]:
    """What this person uploaded: by account when signed in, else by browser session."""
    mine = Q(session_key=session_key) if session_key else Q(pk__in=[])
    if user.is_authenticated:
        mine |= Q(uploaded_by=user)
    return Prediction.objects.filter(mine)[:limit]


@dataclass(frozen=True)
class ModelSummary:
    version: str
    created: datetime
    metrics: dict[str, float]
    kind: str
    parent: str | None
    tags: dict[str, Any]


def live_model_summary() -> ModelSummary | None:
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
