"""The single writer: turns accepted labels into new model versions, and undoes them.

Only one update runs at a time across the whole deployment (``single_writer``): a thread lock in
the process, plus a PostgreSQL advisory lock (production) or a file lock in ``VAR_DIR`` (SQLite)
across processes, so two Celery workers can never race for a parent version or a version number.
Each update: parent = the live version → embedding (cached per image and extractor) → mlcore's
``update_head`` (replay + ``partial_fit`` on a copy + the forgetting guard) → a new MLflow version
with its lineage → the live alias moves if the guard passed → the labels are recorded → ``model.updated``
is broadcast.

A job may run twice (its worker died, a service was down): a label recorded as learned is skipped; a
version registered but never made live stays an unused version (the alias still names the last
committed one); a version made live whose labels were not recorded yet is recorded, not learned again.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from annotations.agreement import consensus
from annotations.models import Annotation
from mlcore import learner
from mlcore.labels import LABEL_INDEX
from predictions import ml
from predictions.events import broadcast_model_updated
from predictions.models import ImageEmbedding, Prediction
from predictions.services import embedding_store

if TYPE_CHECKING:
    from mlcore.registry import Registry

logger = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x1AF0_0001  # any constant shared by every process of this deployment
COUNTED = (Annotation.Status.LEARNED, Annotation.Status.HELD_BACK)

_thread_lock = threading.Lock()
_warm = threading.Event()
_warm_lock = threading.Lock()


class LabelWaits(RuntimeError):
    """A label cannot be learned now (no live model, or MLflow unreachable); its job is retried later."""


@contextmanager
def single_writer() -> Iterator[None]:
    """Hold the deployment-wide writer lock."""
    with _thread_lock:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            try:
                yield
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        else:
            with open(settings.VAR_DIR / "online-learning.lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


# ---- what the writer keeps between updates ------------------------------------------------------------
@dataclass(frozen=True)
class _Parent:
    model: object  # mlcore ExpressionModel
    anchor: str  # the offline-trained version the guard compares with
    baseline: dict[str, float]
    # How this version was made, when it was learned online: its labels, their label, its parent, the guard's note.
    learned_from: frozenset[int] = field(default=frozenset())
    label: str = ""
    made_from: str = ""
    guard: str = ""


_parents: dict[tuple[str, str], _Parent] = {}  # (model name, version) → parent state; the writer's own cache


def _cache_key(version: str) -> tuple[str, str]:
    return (settings.INFANTINO_MODEL_NAME, version)


def _remember(version: str, parent: _Parent) -> None:
    if len(_parents) > 8:
        _parents.pop(next(iter(_parents)))
    _parents[_cache_key(version)] = parent


def _parent_state(version: str) -> _Parent:
    cached = _parents.get(_cache_key(version))
    if cached is not None:
        return cached
    registry = ml.registry()
    try:
        serving = ml.live_model.current()
    except ml.ModelUnavailable:
        serving = None
    model = serving if serving is not None and serving.version == version else registry.load(version)
    info = registry.version_info(version)
    made = {
        "learned_from": frozenset(int(pk) for pk in info.tags.get("annotation_ids", "").split(",") if pk.isdigit()),
        "label": info.tags.get("label", ""),
        "made_from": info.parent or "",
        "guard": info.tags.get("guard", ""),
    }
    if info.tags.get("kind") == "online" and info.tags.get("guard_anchor"):
        anchor = info.tags["guard_anchor"]
        baseline = {
            key.removeprefix("baseline_"): value for key, value in info.metrics.items() if key.startswith("baseline_")
        }
    else:
        anchor = version
        baseline = learner.evaluate(
            model.head, registry.load_reference(model.extractor_id), temperature=model.temperature
        )
    state = _Parent(model=model, anchor=anchor, baseline=baseline, **made)
    _remember(version, state)
    return state


def learner_config(*, seed: int) -> learner.LearnerConfig:
    return learner.LearnerConfig(
        seed=seed,  # a different replay draw for every update, yet reproducible from the label
        replay_size=settings.INFANTINO_REPLAY_SIZE,
        tolerance=settings.INFANTINO_FORGETTING_TOLERANCE,
        guard=settings.INFANTINO_FORGETTING_GUARD,
    )


# ---- embeddings -----------------------------------------------------------------------------------------
def image_embedding(image: Prediction, model: object) -> np.ndarray:
    """The image's embedding under the model's extractor, computed once and kept."""
    extractor_id = model.extractor_id  # type: ignore[attr-defined]
    stored = ImageEmbedding.objects.filter(prediction=image, extractor_id=extractor_id).first()
    if stored is not None:
        return np.frombuffer(bytes(stored.vector), dtype=np.float32)
    from mlcore.imageio import decode_image

    with image.image.open("rb") as handle:
        picture = decode_image(
            handle.read(), max_bytes=settings.INFANTINO_MAX_UPLOAD_BYTES, max_pixels=settings.INFANTINO_MAX_PIXELS
        ).image
    face = model.crop(picture)  # type: ignore[attr-defined]
    vector = model.embed([face.image])[0]  # type: ignore[attr-defined]
    embedding_store(
        prediction=image, extractor_id=extractor_id, vector=vector, face_box=list(face.box) if face.box else None
    )
    return vector


def earlier_labels(extractor_id: str, *, exclude_image: object) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Embeddings and labels of images learned before (one row per image), for replay."""
    rows = (
        Annotation.objects.filter(status__in=COUNTED, image__embeddings__extractor_id=extractor_id)
        .exclude(image=exclude_image)
        .values_list("image_id", "label", "image__embeddings__vector")
    )
    seen: dict[object, tuple[str, bytes]] = {}
    for image_id, label, vector in rows:
        seen.setdefault(image_id, (label, bytes(vector)))
    if not seen:
        return None, None
    x = np.stack([np.frombuffer(vector, dtype=np.float32) for _, vector in seen.values()])
    y = np.array([LABEL_INDEX[label] for label, _ in seen.values()], dtype=np.int64)
    return x, y


# ---- learning -------------------------------------------------------------------------------------------
def learn_from_annotation(*, annotation_id: int) -> str | None:
    """Learn the image of ``annotation_id`` if its consensus is reached; returns the new version, if any."""
    with single_writer():
        return _learn(annotation_id)


def _learn(annotation_id: int) -> str | None:
    annotation = Annotation.objects.select_related("image").filter(pk=annotation_id).first()
    if annotation is None or annotation.status != Annotation.Status.QUEUED:
        return None  # undone meanwhile, or already settled with its image
    image = annotation.image
    settled = image.annotations.filter(status__in=COUNTED).first()
    if settled is not None:
        # The image was learned already; a later label joins it or is outvoted, never learned twice.
        status = settled.status if annotation.label == settled.label else Annotation.Status.OUTVOTED
        Annotation.objects.filter(pk=annotation.pk).update(
            status=status, model_version=settled.model_version, parent_version=settled.parent_version
        )
        return None
    votes = list(image.annotations.filter(status=Annotation.Status.QUEUED))
    label = consensus([vote.label for vote in votes], needed=settings.INFANTINO_LABELS_PER_IMAGE)
    if label is None:
        return None  # waits for more annotators
    agreeing = [vote.pk for vote in votes if vote.label == label]

    started = time.monotonic()
    registry = ml.registry()
    parent_version = registry.live_version()
    if parent_version is None:
        raise LabelWaits(f"annotation {annotation_id} waits: no live model to learn onto, or MLflow is unreachable")
    parent = _parent_state(parent_version)
    made = _made_before(registry, annotation, live=parent_version)
    if made is not None:
        # An earlier run made a version in the live line from this label, then stopped (its worker died, the
        # database failed) before recording it: record it, never learn the label a second time.
        state = parent if made == parent_version else _parent_state(made)
        _record(state.learned_from, state, version=made, votes=votes, accepted=True)
        broadcast_model_updated(parent_version, reason="learned", label=state.label)
        logger.info("annotation %s was learned into live-line version %s already: recorded", annotation_id, made)
        return made
    model = parent.model
    vector = image_embedding(image, model)
    reference = registry.load_reference(model.extractor_id)  # type: ignore[attr-defined]
    earlier_x, earlier_y = earlier_labels(model.extractor_id, exclude_image=image)  # type: ignore[attr-defined]
    config = learner_config(seed=annotation.pk)
    result = learner.update_head(
        model.head,
        vector[None, :],
        np.array([LABEL_INDEX[label]]),  # type: ignore[attr-defined]
        reference=reference,
        baseline=parent.baseline,
        earlier_x=earlier_x,
        earlier_y=earlier_y,
        temperature=model.temperature,
        config=config,  # type: ignore[attr-defined]
    )
    metrics = {**result.metrics, **{f"baseline_{key}": value for key, value in parent.baseline.items()}}
    version = registry.register(
        head=result.head,
        extractor_id=model.extractor_id,  # type: ignore[attr-defined]
        kind="online",
        parent=parent_version,
        temperature=model.temperature,  # type: ignore[attr-defined]
        abstain_threshold=model.abstain_threshold,  # type: ignore[attr-defined]
        metrics=metrics,
        # Run params cost one call; each version tag costs one store transaction (~25 ms on SQLite).
        params={
            "replay_size": config.replay_size,
            "steps": config.steps,
            "repeats": config.new_sample_repeats,
            "tolerance": config.tolerance,
            "guard": config.guard,
            "image": image.pk,
            "earlier_labels": 0 if earlier_y is None else len(earlier_y),
            "guard_reasons": "; ".join(result.reasons)[:4000] or "-",
        },
        tags={
            "annotation_ids": ",".join(str(pk) for pk in agreeing),
            "label": label,
            "guard": result.guard,
            "guard_anchor": parent.anchor,
        },
    )
    learned_model = model.with_head(result.head, version=version)  # type: ignore[attr-defined]
    state = _Parent(
        model=learned_model,
        anchor=parent.anchor,
        baseline=parent.baseline,
        learned_from=frozenset(agreeing),
        label=label,
        made_from=parent_version,
        guard=result.guard if result.accepted else "; ".join(result.reasons),
    )
    _remember(version, state)
    # Noted (the labels stay queued) before the alias moves, so that a re-run knows which version they made.
    Annotation.objects.filter(pk__in=agreeing, status=Annotation.Status.QUEUED).update(
        model_version=version, parent_version=parent_version
    )
    if result.accepted:
        registry.set_live(version, by=f"annotation {','.join(str(pk) for pk in agreeing)}")
        ml.live_model.install(learned_model)  # the writer's process serves it at once; others on the broadcast
    _record(state.learned_from, state, version=version, votes=votes, accepted=result.accepted)
    if result.accepted:
        broadcast_model_updated(version, reason="learned", label=label)
    logger.info(
        "annotation %s (%s) → version %s, %s, guard %s, %.0f ms",
        annotation_id,
        label,
        version,
        "learned" if result.accepted else "held back",
        result.guard,
        1000 * (time.monotonic() - started),
    )
    return version


def _made_before(registry: Registry, annotation: Annotation, *, live: str) -> str | None:
    """The version in the live line that an earlier run of this job made from ``annotation``, if any."""
    noted = annotation.model_version
    if not noted or not noted.isdigit():
        return None
    if noted == live:
        return noted
    # Rare (a crash, then other labels learned first): walk back from live; parents are older versions.
    return noted if noted in _live_line(registry, live, down_to=noted) else None


def _record(agreeing: frozenset[int], made: _Parent, *, version: str, votes: list[Annotation], accepted: bool) -> None:
    """Write what became of an image's queued labels once ``version`` was made from ``agreeing``."""
    status = Annotation.Status.LEARNED if accepted else Annotation.Status.HELD_BACK
    outvoted = [vote.pk for vote in votes if vote.pk not in agreeing and vote.label != made.label]
    with transaction.atomic():
        Annotation.objects.filter(pk__in=agreeing, status=Annotation.Status.QUEUED).update(
            status=status, model_version=version, parent_version=made.made_from, guard_note=made.guard[:500]
        )
        Annotation.objects.filter(pk__in=outvoted).update(
            status=Annotation.Status.OUTVOTED, model_version=version, parent_version=made.made_from
        )


def requeue_waiting_labels(*, older_than: float | None = None) -> int:
    """Queue a learn job again for each image whose labels have waited ``older_than`` seconds; returns how many.

    Covers jobs lost with a dead worker or given up after their retries. Only images with enough queued
    labels for a consensus are queued; a job that finds its label settled meanwhile does nothing.
    """
    from infantino_site.jobs import enqueue

    seconds = settings.INFANTINO_RELEARN_AFTER_SECONDS if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=seconds)
    waiting = (
        Annotation.objects.filter(status=Annotation.Status.QUEUED)
        .values("image_id")
        .annotate(votes=Count("id"), first=Min("id"), oldest=Min("created"))
        .filter(Q(votes__gte=settings.INFANTINO_LABELS_PER_IMAGE), oldest__lte=cutoff)
        .order_by("first")
    )
    firsts = [row["first"] for row in waiting]
    for annotation_id in firsts:
        enqueue("annotations.tasks.learn", annotation_id=annotation_id)
    if firsts:
        logger.info("queued %d waiting labels again", len(firsts))
    return len(firsts)


# ---- undo -----------------------------------------------------------------------------------------------
def undo_version(*, version: str, parent: str) -> str | None:
    """Take back ``version`` (made from an undone label): live goes to ``parent``; later labels are re-learned.

    Returns the version live afterwards, or None when ``version`` was not in the live line (nothing moves).
    """
    if not version:
        return None
    with single_writer():
        registry = ml.registry()
        line = _live_line(registry, registry.live_version(), down_to=version)
        if version not in line:
            return None  # undone already (a re-run); labels it left waiting are learned by their jobs or the sweep
        after = line[: line.index(version)]  # versions built on the undone one, newest first
        relearn = list(Annotation.objects.filter(model_version__in=[version, *after]).order_by("created", "id"))
        # Waiting before the alias moves: a worker that dies in between leaves labels to learn again, never
        # labels recorded in versions that are no longer live.
        Annotation.objects.filter(pk__in=[a.pk for a in relearn]).update(
            status=Annotation.Status.QUEUED, model_version="", parent_version="", guard_note=""
        )
        registry.set_live(parent, by="undo")
        ml.live_model.install(_parent_state(parent).model)
        broadcast_model_updated(parent, reason="undo")
        logger.info("undo of version %s: live is %s again; re-learning %d later labels", version, parent, len(relearn))
        for annotation in relearn:
            _learn(annotation.pk)
        return registry.live_version()


def _live_line(registry: Registry, live: str | None, *, down_to: str) -> list[str]:
    """The versions from ``live`` back through their recorded parents (newest first), down to ``down_to``."""
    line: list[str] = []
    current = live
    # A parent is always an older version: below ``down_to`` it cannot be found any more.
    while current and current not in line and int(current) >= int(down_to):
        line.append(current)
        if current == down_to:
            break
        current = registry.version_info(current).parent
    return line


# ---- warm-up --------------------------------------------------------------------------------------------
def warm_up() -> None:
    """Import MLflow's model-logging stack and load the live head and reference data before the first label."""
    with _warm_lock:  # a worker warms up as it starts and when a web process asks: once is enough
        if _warm.is_set():
            return
        started = time.monotonic()
        learner.warm_up()
        try:
            live = ml.live_version()
            if live is not None:
                with single_writer():
                    state = _parent_state(live)
                    ml.registry().load_reference(state.model.extractor_id)  # type: ignore[attr-defined]
        except Exception as error:  # MLflow down: the first label loads the model instead
            logger.warning("could not preload the live model for online learning (%s: %s)", type(error).__name__, error)
        _warm.set()
        logger.info("online learning warmed up in %.1f s", time.monotonic() - started)


_warm_up_requested = threading.Event()


def request_warm_up() -> None:
    """Ask the job runner (the single writer) to warm up, once per process."""
    if _warm_up_requested.is_set() or _warm.is_set():
        return
    _warm_up_requested.set()
    from infantino_site.jobs import enqueue

    if settings.INFANTINO_JOB_RUNNER == "inline":
        return  # nothing runs in the background; the first label pays instead
    enqueue("annotations.tasks.warm_up")
