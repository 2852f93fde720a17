"""Reads for predictions and the live model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from predictions import ml
from predictions.models import Prediction


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
