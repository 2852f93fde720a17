"""Reads for predictions and the live model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse

from accounts import roles
from predictions.ml import (
    ONLINE_KINDS,
    Backend,
    Explanation,
    Kind,
    ModelUnavailable,
    UnknownVersion,
    backend,
    decode_image,
)
from predictions.models import COUNTED, Prediction


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


def predictions_shared() -> QuerySet[Prediction]:
    """The one read of consent: photos their parents shared, which annotators may see and export.

    A photo without consent is only predicted and shown to its uploader.
    """
    return Prediction.objects.filter(consent=True)


def predictions_usable_for_learning() -> QuerySet[Prediction]:
    """Shared photos an annotator has not marked unusable: the labeling queue, replay and full retrains read this."""
    return predictions_shared().filter(unusable="")


def prediction_get_for_learning(*, prediction_id: str) -> Prediction | None:
    """A photo annotators may label; one its parent did not share reads exactly as one that does not exist."""
    return _first(predictions_usable_for_learning(), prediction_id)


def predictions_visible(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> QuerySet[Prediction]:
    """What this person may see: their own uploads; annotators also every photo shared for labeling; admins all."""
    owned = predictions_owned(user=user, session_key=session_key)
    if roles.is_admin(user):
        return Prediction.objects.all()
    if roles.sees_all_images(user):
        return owned | predictions_shared()
    return owned


def prediction_get_visible(
    *, prediction_id: str, user: AbstractBaseUser | AnonymousUser, session_key: str
) -> Prediction | None:
    """None for a prediction this person may not see, exactly as for one that does not exist."""
    return _first(predictions_visible(user=user, session_key=session_key), prediction_id)


def prediction_get_owned(
    *, prediction_id: str, user: AbstractBaseUser | AnonymousUser, session_key: str
) -> Prediction | None:
    """Only the uploader (account or session) decides about consent: not an annotator, not an admin."""
    return _first(predictions_owned(user=user, session_key=session_key), prediction_id)


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
class Likely:
    label: str
    percent: float


def prediction_likeliest(prediction: Prediction, *, count: int = 2) -> list[Likely]:
    """The ``count`` most probable expressions with their percentages, likeliest first."""
    ranked = sorted(prediction.probabilities.items(), key=lambda item: -item[1])[:count]  # stable: ties in label order
    return [Likely(label=label, percent=round(100 * probability, 1)) for label, probability in ranked]


@dataclass(frozen=True)
class HistoryRow:
    prediction: Prediction
    likeliest: list[Likely]  # what an unsure answer hesitates between


def predictions_history(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> list[HistoryRow]:
    """The upload page's list: this person's recent predictions, each with its two likeliest expressions."""
    return [
        HistoryRow(prediction=p, likeliest=prediction_likeliest(p))
        for p in predictions_recent(user=user, session_key=session_key)
    ]


def predictions_labeled_to_consensus() -> list[tuple[Prediction, str]]:
    """Every shared image whose labels settled on one, with that label: what a full retrain learns from users."""
    # Through the reverse relation by name: predictions must not import the annotations app.
    usable = predictions_usable_for_learning()
    labels = dict(usable.filter(annotations__status__in=COUNTED).values_list("pk", "annotations__label"))
    return [(prediction, labels[prediction.pk]) for prediction in usable.filter(pk__in=labels)]


def predictions_labeled_to_consensus_count() -> int:
    """How many images ``predictions_labeled_to_consensus`` returns, counted in the database."""
    return predictions_usable_for_learning().filter(annotations__status__in=COUNTED).distinct().count()


def predictions_expired(*, now: datetime) -> QuerySet[Prediction]:
    """Photos past retention: not shared for learning, never labeled, uploaded ``INFANTINO_RETENTION_DAYS`` ago."""
    cutoff = now - timedelta(days=settings.INFANTINO_RETENTION_DAYS)
    return Prediction.objects.exclude(pk__in=predictions_shared().values("pk")).filter(
        created__lt=cutoff, annotations__isnull=True
    )


def prediction_deletion_due(*, prediction: Prediction) -> datetime | None:
    """When retention will delete this photo; None when it is kept (shared for learning, or labeled)."""
    if predictions_shared().filter(pk=prediction.pk).exists() or prediction.annotations.exists():
        return None
    return prediction.created + timedelta(days=settings.INFANTINO_RETENTION_DAYS)


@dataclass(frozen=True)
class ModelSummary:
    version: str
    created: datetime
    metrics: Mapping[str, float]  # every score it logged, as ``/api/models/live/`` publishes them
    infant_accuracy: float | None
    kind: str
    parent: str | None


def live_model_summary() -> ModelSummary | None:
    """The live version's summary, None when none is trained; raises ``ModelUnavailable`` while MLflow is down."""
    model = backend()
    version = model.live_version()
    if version is None:
        return None
    info = model.version_info(version)
    return ModelSummary(
        version=info.version,
        created=datetime.fromtimestamp(info.created_ms / 1000, tz=UTC),
        metrics=info.metrics,
        infant_accuracy=info.scores["infant"].accuracy,
        kind=info.kind,
        parent=info.parent,
    )


_starters: tuple[Backend | None, dict[tuple[str, str], bool]] = (None, {})


def version_is_starter(version: str) -> bool:
    """Whether ``version`` is the starter model, or learned online on top of it; False when the registry cannot say."""
    global _starters
    model = backend()
    owner, known = _starters
    if owner is not model:  # a new backend (tests, a settings change) may number other versions alike
        owner, known = _starters = (model, {})
    key = (settings.INFANTINO_MODEL_NAME, version)
    if key not in known:
        try:
            known[key] = _lineage_is_starter(model, version)
        except (ModelUnavailable, UnknownVersion):
            return False  # not remembered: asked again once the registry answers
    return known[key]  # versions never change: each is asked about once per process


def _lineage_is_starter(model: Backend, version: str) -> bool:
    seen: set[str] = set()
    while version not in seen:
        seen.add(version)
        info = model.version_info(version)
        anchor = info.anchor or info.parent  # the offline-trained version it was learned onto
        if info.kind not in ONLINE_KINDS or not anchor:  # labels learned onto a starter leave it a starter
            return info.kind == Kind.BOOTSTRAP
        version = anchor
    return False


def live_model_notice() -> tuple[ModelSummary | None, str]:
    """For pages: the live model's summary (None if none is trained), or None and why MLflow cannot tell."""
    try:
        return live_model_summary(), ""
    except ModelUnavailable as exc:
        return None, str(exc)


@dataclass(frozen=True)
class MyData:
    predictions: int
    labels: int
    shared: int  # photos this person lets annotators see and the model learn from


def my_data(*, user: AbstractBaseUser | AnonymousUser, session_key: str) -> MyData:
    """How many photos this person (account or session) stored here, how many they share, and their labels."""
    # Labels through the reverse relation by name: predictions does not import the annotations app.
    labels = user.annotations.count() if user.is_authenticated else 0  # type: ignore[union-attr]
    owned = predictions_owned(user=user, session_key=session_key)
    shared = owned.filter(pk__in=predictions_shared().values("pk")).count()
    return MyData(predictions=owned.count(), labels=labels, shared=shared)


SALIENCY_CACHE_SECONDS = 7 * 24 * 3600  # a map never changes for one photo and version; the cache may drop it sooner


def prediction_saliency(*, prediction: Prediction) -> Explanation:
    """The live model's heat map on this photo, computed on first request and cached per (photo, live version)."""
    model = backend()
    version = model.live_version()
    if version is None:
        raise ModelUnavailable("No model is trained yet: run `python manage.py bootstrap_model`.")
    key = f"saliency:{prediction.pk}:{version}"
    found = cache.get(key)
    if isinstance(found, Explanation):
        return found
    with prediction.image.open("rb") as handle:
        data = handle.read()
    picture = decode_image(
        data, max_bytes=settings.INFANTINO_MAX_UPLOAD_BYTES, max_pixels=settings.INFANTINO_MAX_PIXELS
    )
    explanation = model.explain(picture.image)
    cache.set(f"saliency:{prediction.pk}:{explanation.model_version}", explanation, SALIENCY_CACHE_SECONDS)
    return explanation
