"""One simulated annotator, through the app: label the pool in an order, score the live head as it learns.

Every label goes the way a person's does (POST /api/annotations/ → the job worker → online update → the guard →
the live alias), settled before the next; the queue order is read from GET /api/queue/ after each label, as the
page reads it. A label the app sends back as suspect is confirmed by a second annotator (its true label), as a
team would, so the online line keeps every label the refit has. The refit method replays each online run's label
sequence: at every checkpoint the head is refitted (``mlcore.consolidation.refit_head``) on all labels so far plus
the start model's replay pool, so online and refit are compared on the same labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.learning_curve_maths import Curve, Point
from bench.online import BENCH_USER, bench_registry, copy_into_bench_store, settle, upload
from bench.online_data import Source, Stream
from mlcore.datasets import FolderItem
from mlcore.labels import LABELS

if TYPE_CHECKING:
    from sklearn.neural_network import MLPClassifier

    from bench.learning_curve_start import Start

ORDERS = ("queue", "random", "least_confident")
SECOND_USER = "bench-second-opinion"
QUEUE_PAGE = 50  # the most images GET /api/queue/ gives at once  # labels what the app sends back as suspect


@dataclass(frozen=True)
class Pool:
    """The pool as the app holds it: prediction ids, their true labels, and the embeddings stored at upload."""

    base: str  # the start model's version in the app's store
    images: list[str]
    labels: dict[str, int]
    vectors: dict[str, np.ndarray]


def prepare(start: Start, items: list[FolderItem]) -> Pool:
    """The start model made live in the app's store, and every pool photo uploaded (and predicted) once; an
    earlier seed's photos, labels and annotators leave first."""
    from django.contrib.auth import get_user_model

    from accounts.services import annotator_grant
    from annotations.learning.warmup import warm_up
    from bench.learning_curve_start import registry_in
    from common.jobs import wait_for_idle
    from predictions.models import ImageEmbedding, Prediction

    wait_for_idle(120)
    Prediction.objects.all().delete()  # their labels, embeddings and skips with them
    get_user_model().objects.filter(username__in=(BENCH_USER, SECOND_USER)).delete()
    source = Source(start.version, start.model, start.reference, guard=start.reference, held=start.reference)
    kind = registry_in(start.folder).version_info(start.version).tags["kind"]  # a consolidation fits as it did
    base = copy_into_bench_store(source, copied_from=f"{start.folder}:{start.version}", kind=kind)
    for name in (BENCH_USER, SECOND_USER):
        annotator_grant(user=get_user_model().objects.create_user(name, password="bench-learning-curve-42"))
    images = upload(Stream(items=items, training_photos=items, left_out=0, with_replacement=False))
    extractor_id = bench_registry().load(base).extractor_id
    stored = dict(
        ImageEmbedding.objects.filter(prediction_id__in=images, extractor_id=extractor_id).values_list(
            "prediction_id", "vector"
        )
    )
    vectors = {str(pk): np.frombuffer(bytes(vector), dtype=np.float32) for pk, vector in stored.items()}
    warm_up()
    labels = {image: item.label for image, item in zip(images, items, strict=True)}
    return Pool(base=base, images=images, labels=labels, vectors=vectors)


def reset(pool: Pool) -> None:
    """No labels, the start model live and served: each run starts where the annotator would."""
    from annotations.models import Annotation
    from common.jobs import wait_for_idle
    from predictions import ml

    wait_for_idle(120)
    Annotation.objects.all().delete()
    bench_registry().set_live(pool.base, by="bench")
    ml.backend().serve(pool.base)


@dataclass(frozen=True)
class Run:
    """One order's run through the app: its curve, the images in the order labeled, and the live version's
    registered metrics at each checkpoint (what a retrain begun then is judged against)."""

    curve: Curve
    done: list[str]
    live_metrics: dict[int, dict[str, float]]
    held_back_rules: dict[str, int]  # each rule that held labels back (its reason, numbers blanked), and how often
    seconds: float = 0.0  # from the first label posted to the last one settled


def online_run(pool: Pool, start: Start, *, order: str, seed: int, marks: list[int], burst: bool = False) -> Run:
    """Label the pool in ``order`` through the app, scoring the live head after every label; ``burst``: each stretch
    between checkpoints is posted at once (the queue read once at its start), scored when the app is idle."""
    import time

    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from annotations.models import Annotation
    from common.jobs import wait_for_idle
    from predictions import ml

    reset(pool)
    client, second = APIClient(), APIClient()
    client.force_authenticate(get_user_model().objects.get(username=BENCH_USER))
    second.force_authenticate(get_user_model().objects.get(username=SECOND_USER))
    rng = np.random.default_rng(seed)
    left = [pool.images[i] for i in rng.permutation(len(pool.images))]
    done: list[str] = []
    live_metrics: dict[int, dict[str, float]] = {}
    trace = [_correct(ml.backend().served().head, start).mean()]
    points = [_point(ml.backend().served().head, start, labels=0, held_back=0)]
    started = time.monotonic()
    pending: list[int] = []
    while len(done) < marks[-1]:
        stretch = next(mark for mark in marks if mark > len(done)) - len(done) if burst else 1
        images = _next_many(order, client, pool, left, stretch) if burst else [_next(order, client, pool, left)]
        images = [image for image in images if image is not None]
        if not images:
            break  # the queue offers nothing more (a photo without a usable face, say)
        for image in images:
            response = client.post(
                "/api/annotations/", {"image": image, "label": LABELS[pool.labels[image]]}, format="json"
            )
            assert response.status_code == 201, response.content
            pending.append(response.json()["id"])
            left.remove(image)
            done.append(image)
        if burst and len(done) not in marks:
            continue  # the queue read again, the jobs still running: a script posting page after page
        if burst:
            wait_for_idle(600)
            second_opinions(second, pool)  # labels a consolidation sent back wait for a second annotator
            wait_for_idle(600)
        for annotation_id in pending:
            settle(Annotation, annotation_id)
        pending.clear()
        second_opinions(second, pool)
        if len(done) in marks:
            wait_for_idle(120)  # a consolidation the app started runs before the score, as it would for a person
        head = ml.backend().served().head
        if not burst:
            trace.append(_correct(head, start).mean())
        if len(done) in marks:
            held = Annotation.objects.filter(status=Annotation.Status.HELD_BACK)
            held_back = held.values("image_id").distinct().count()  # images: a re-checked suspect has two labels
            points.append(_point(head, start, labels=len(done), held_back=held_back))
            live_metrics[len(done)] = dict(bench_registry().version_info(ml.backend().live_version()).metrics)
    seconds = time.monotonic() - started
    variant = f"{order}/{'burst' if burst else 'online'}"
    curve = Curve(variant=variant, seed=seed, points=points, trace=[float(v) for v in trace] if not burst else [])
    return Run(curve=curve, done=done, live_metrics=live_metrics, held_back_rules=held_back_rules(), seconds=seconds)


def held_back_rules() -> dict[str, int]:
    """How often each guard rule was among the reasons of the labels held back now, most frequent first."""
    from collections import Counter

    from annotations.models import Annotation

    notes = Annotation.objects.filter(status=Annotation.Status.HELD_BACK).values_list("guard_note", flat=True)
    rules = Counter(re.sub(r"\d+(\.\d+)?", "#", reason.strip()) for note in notes for reason in note.split("; "))
    return dict(rules.most_common())


def second_opinions(client: Any, pool: Pool) -> int:
    """The second annotator labels every image sent back as suspect with its true label; how many."""
    from annotations.models import Annotation

    sent_back = Annotation.objects.filter(status=Annotation.Status.QUEUED, suspect_since__isnull=False)
    images = [str(image) for image in sent_back.values_list("image_id", flat=True)]
    for image in images:
        response = client.post(
            "/api/annotations/", {"image": image, "label": LABELS[pool.labels[image]]}, format="json"
        )
        assert response.status_code == 201, response.content
        settle(Annotation, response.json()["id"])
    return len(images)


def _next_many(order: str, client: Any, pool: Pool, left: list[str], n: int) -> list[str]:
    """The next ``n`` images as one read shows them: the queue's first n, or the next n of the other orders."""
    if order == "queue":
        return [str(item["id"]) for item in client.get(f"/api/queue/?n={min(n, QUEUE_PAGE)}").json()]
    if order == "random":
        return left[:n]
    from predictions import ml

    model = ml.backend().served()
    confidence = model.probabilities(np.stack([pool.vectors[image] for image in left])).max(axis=1)
    return [left[i] for i in np.argsort(confidence)[:n]]


def _next(order: str, client: Any, pool: Pool, left: list[str]) -> str | None:
    """The image to label next: the queue's first, the next of a shuffled pool, or the least confident now."""
    from predictions import ml

    if order == "queue":
        offered = client.get("/api/queue/?n=1").json()
        return str(offered[0]["id"]) if offered else None
    if not left:
        return None
    if order == "random":
        return left[0]
    model = ml.backend().served()
    confidence = model.probabilities(np.stack([pool.vectors[image] for image in left])).max(axis=1)
    return left[int(np.argmin(confidence))]


def refit_run(pool: Pool, start: Start, online: Curve, done: list[str], *, epochs: int) -> Curve:
    """The head refitted on the same labels as ``online`` at each of its checkpoints, plus the replay pool."""
    from bench.learning_curve_start import registry_in
    from mlcore.consolidation import refit_head, source_share_for

    share = source_share_for(registry_in(start.folder).version_info(start.version).tags.get("kind", ""))
    points = [online.points[0]]
    for point in online.points[1:]:
        labeled = done[: point.labels]
        head = refit_head(
            np.stack([pool.vectors[image] for image in labeled]),
            np.array([pool.labels[image] for image in labeled], dtype=np.int64),
            reference=start.reference,
            seed=online.seed,
            epochs=epochs,
            source_share=share,  # as the app's consolidation fits it
        )
        points.append(_point(head, start, labels=point.labels, held_back=0))
    return Curve(variant=online.variant.replace("/online", "/refit"), seed=online.seed, points=points)


def _correct(head: MLPClassifier, start: Start) -> np.ndarray:
    from mlcore.online import head_probabilities

    return head_probabilities(head, start.held_x).argmax(axis=1) == start.held_y


def _point(head: MLPClassifier, start: Start, *, labels: int, held_back: int) -> Point:
    from mlcore.learner import evaluate
    from mlcore.metrics import macro_f1
    from mlcore.online import head_probabilities

    predicted = head_probabilities(head, start.held_x).argmax(axis=1)
    fer = evaluate(head, start.reference).get("fer_accuracy")
    return Point(
        labels=labels,
        correct=predicted == start.held_y,
        macro_f1=macro_f1(start.held_y, predicted),
        fer_accuracy=fer,
        held_back=held_back,
    )


def pool_items(infant_dir: Path, names: list[str], labels: np.ndarray) -> list[FolderItem]:
    """The pool photos as folder items (path and label), in the split's order."""
    return [FolderItem(path=infant_dir / name, label=int(label)) for name, label in zip(names, labels, strict=True)]
