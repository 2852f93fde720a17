"""The backend every profile runs: models versioned in MLflow, the live one held in this process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image
from sklearn.neural_network import MLPClassifier

from mlcore import correction, learner, runtime, saliency
from mlcore.consolidation import source_share_for
from mlcore.faces import square_crop
from mlcore.label_noise import LabelIssue, suspicious_labels
from mlcore.model import ExpressionModel
from mlcore.mtcnn import fetch_weights, weights_present
from mlcore.registry import ArtifactRefused, NoModel, Registry, RegistryUnavailable, VersionInfo, registry_for
from mlcore.versions import ANCHOR_TAG, ANNOTATIONS_TAG, CONSOLIDATION_TAG, GUARD_TAG, LABEL_TAG, ONLINE_KINDS, Kind
from predictions.ml import (
    Embedded,
    Explanation,
    FaceBox,
    FaceChooser,
    GuardVerdict,
    LabelsToLearn,
    Learned,
    ModelRefused,
    ModelUnavailable,
    Outcome,
    Progress,
    Replay,
    Trained,
    TrainingRun,
    UnknownVersion,
    labels_to_indices,
)
from predictions.ml import training as training_runs
from predictions.ml.live import LiveModel

logger = logging.getLogger(__name__)

REGISTRY_DOWN = "The model registry cannot be reached right now; try again shortly."
BASELINES_KEPT = 8  # guard baselines (anchor, its scores and head) of the newest versions learned onto
Baseline = tuple[str, dict[str, float], MLPClassifier]


class MLflowBackend:
    def __init__(self) -> None:
        self.live = LiveModel(self.registry)
        self._baselines: dict[tuple[str, str], Baseline] = {}
        self._lock = threading.Lock()

    def registry(self) -> Registry:
        return registry_for(
            settings.INFANTINO_MLFLOW_URI, settings.INFANTINO_MLFLOW_ARTIFACTS, settings.INFANTINO_MODEL_NAME
        )

    # ---- serving ------------------------------------------------------------------------------------------
    def predict(self, image: Image.Image) -> Outcome:
        """Crop the face, embed it and classify it with the live model; background work steps aside meanwhile."""
        model = self.live.current()
        with runtime.foreground():
            face = model.crop(image)
            embedding = model.embed([face.image])
            return Outcome(
                prediction=model.predict_embedding(embedding, face.box),
                embedding=embedding[0],
                extractor_id=model.extractor_id,
            )

    def predict_many(self, images: Sequence[Image.Image]) -> list[Outcome]:
        """``predict`` for several images under one live version, faces embedded and classified in batches (bulk work:
        imports, video frames); the same answers as ``predict`` one image at a time."""
        model = self.live.current()
        return [
            Outcome(prediction=prediction, embedding=embedding, extractor_id=model.extractor_id)
            for prediction, embedding in model.predict_many(images)
        ]

    def predict_faces(self, images: Sequence[Image.Image], *, follow: FaceChooser) -> list[Outcome | None]:
        """Every face in each image, the one ``follow`` picks embedded and classified (None: it picked none). Background
        work (a clip's frames): it steps aside before each detection and the batch's embedding while a served
        prediction is in flight."""
        model = self.live.current()
        picked: list[tuple[int, FaceBox]] = []
        for index, image in enumerate(images):
            runtime.yield_to_foreground()
            box = follow(model.detector.detect(image))
            if box is not None:
                picked.append((index, box))
        outcomes: list[Outcome | None] = [None] * len(images)
        if not picked:
            return outcomes
        margin = model.config.face_margin
        runtime.yield_to_foreground()
        embeddings = model.embed([square_crop(images[index], box, margin=margin) for index, box in picked])
        predictions = model.predict_embeddings(embeddings, [box for _, box in picked])  # the head once per batch
        for row, ((index, _), prediction) in enumerate(zip(picked, predictions, strict=True)):
            outcomes[index] = Outcome(prediction=prediction, embedding=embeddings[row], extractor_id=model.extractor_id)
        return outcomes

    def embed(self, image: Image.Image, *, version: str) -> Embedded:
        model = self._model(version)
        face = model.crop(image)
        return Embedded(vector=model.embed([face.image])[0], face_box=face.box, extractor_id=model.extractor_id)

    def explain(self, image: Image.Image) -> Explanation:
        """The live model's heat map for its answer on ``image`` (on demand: never part of ``predict``)."""
        model = self.live.current()
        found = saliency.explain(model, image, method=saliency.SERVED_METHOD)
        return Explanation(saliency.overlay_png(found), found.label, found.probability, model.version, found.method)

    def served(self) -> ExpressionModel:
        return self.live.current()

    def extractor_id(self, version: str) -> str:
        """The extractor ``version`` embeds with; from memory when this process holds that version."""
        model = self._in_memory(version)
        return model.extractor_id if model is not None else self.version_info(version).extractor_id

    def serve(self, version: str) -> None:
        """Load ``version``, checked, and serve it in this process; the model served stays when it cannot be."""
        try:
            self.live.swap_to(version)
        except NoModel:
            raise UnknownVersion(f"There is no model version {version}.") from None
        except ArtifactRefused as error:
            raise ModelRefused(f"Version {version} cannot be served: {error}") from None
        except RegistryUnavailable as error:
            raise ModelUnavailable(REGISTRY_DOWN) from error

    # ---- the registry ---------------------------------------------------------------------------------------
    def live_version(self) -> str | None:
        """The live version; while MLflow is unreachable, the version this process serves (if any)."""
        try:
            return self.registry().live_version()
        except RegistryUnavailable as error:
            serving = self.live.serving
            if serving is None:
                raise ModelUnavailable(REGISTRY_DOWN) from error
            return serving.version

    def version_info(self, version: str) -> VersionInfo:
        try:
            return self.registry().version_info(version)
        except NoModel:
            raise UnknownVersion(f"There is no model version {version}.") from None
        except RegistryUnavailable as error:
            raise ModelUnavailable(REGISTRY_DOWN) from error

    def versions(self) -> list[VersionInfo]:
        try:
            return self.registry().versions()
        except RegistryUnavailable as error:
            raise ModelUnavailable(REGISTRY_DOWN) from error

    def version_json(self, version: str, name: str) -> Any | None:
        return self.registry().version_json(version, name)

    def set_live(self, version: str, *, by: str) -> None:
        self.registry().set_live(version, by=by)

    # ---- online learning --------------------------------------------------------------------------------------
    def learn(self, labels: LabelsToLearn, *, parent: str) -> Learned:
        """The anchor's head corrected on every label the line holds plus ``labels.new`` (and, if the guard allows,
        the labels it held back before), judged, registered onto ``parent``; never made live here."""
        model = self._model(parent)
        anchor, baseline, anchor_head = self._baseline(parent, model)
        new_x = np.stack([label.vector for label in labels.new]).astype(np.float32)
        new_y = labels_to_indices([label.label for label in labels.new])
        result = learner.update_head(
            anchor_head,
            new=(new_x, new_y),
            learned=_rows(labels.learned),
            waiting=_rows(labels.waiting),
            parent=model.head if anchor != parent else None,
            reference=self.registry().load_reference(model.extractor_id),
            temperature=model.temperature,
            config=self._learner_config(),
        )
        names = [label.label for label in labels.new]
        return self._registered(
            model,
            result,
            parent=parent,
            baseline=(anchor, baseline, anchor_head),
            params={
                "image": ",".join(str(label.image_id) for label in labels.new),
                "waiting": _count(labels.waiting),
                "took_waiting": result.took_waiting,
            },
            tags={
                ANNOTATIONS_TAG: ",".join(str(pk) for pk in labels.annotation_ids),
                LABEL_TAG: ",".join(names) if len(set(names)) > 1 else names[0],
            },
        )

    def consolidate(self, *, parent: str, labels: Replay, seed: int) -> Learned:
        """The same refit on every label alone (nothing new), tagged as a consolidation with their number."""
        model = self._model(parent)
        anchor, baseline, anchor_head = self._baseline(parent, model)
        empty = (np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64))
        result = learner.update_head(
            anchor_head,
            new=empty,
            learned=_rows(labels),
            parent=model.head if anchor != parent else None,
            reference=self.registry().load_reference(model.extractor_id),
            temperature=model.temperature,
            config=self._learner_config(),
        )
        return self._registered(
            model,
            result,
            parent=parent,
            baseline=(anchor, baseline, anchor_head),
            params={"labels": _count(labels), "anchor": anchor},
            tags={CONSOLIDATION_TAG: str(_count(labels))},
        )

    def refit(self, *, parent: str, replay: Replay, reason: str) -> Learned:
        """``parent``'s line refitted from its offline anchor with only ``replay``'s labels; registered, never live.

        The anchor never saw a user's label, so a correction fitted on the remaining ones alone holds nothing of
        the deleted photos: it goes live unjudged."""
        model = self._model(parent)
        anchor, baseline, anchor_head = self._baseline(parent, model)
        rows = _rows(replay) or (np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64))
        reference = self.registry().load_reference(model.extractor_id)
        strength = settings.INFANTINO_CORRECTION_STRENGTH
        head = correction.corrected(anchor_head, *rows, strength=strength, keep=learner.kept(reference)).head
        metrics = learner.evaluate(head, reference, temperature=model.temperature)
        result = learner.UpdateResult(head=head, metrics=metrics, guard=learner.UNLEARN_GUARD)
        return self._registered(
            model,
            result,
            parent=parent,
            baseline=(anchor, baseline, anchor_head),
            kind=Kind.UNLEARN,
            params={"labels": _count(replay), "anchor": anchor},
            tags={"reason": reason[:500]},
        )

    def label_issues(self, *, version: str, labels: Replay, seed: int) -> list[LabelIssue]:
        """Confident learning on ``labels`` (embeddings under ``version``'s extractor), with its replay pool."""
        if labels.x is None or labels.y is None:
            return []
        reference = self.registry().load_reference(self.extractor_id(version))
        anchor, _, _ = self._baseline(version, self._model(version))
        share = source_share_for(self.registry().version_info(anchor).kind)
        return suspicious_labels(labels.x, labels.y, reference=reference, seed=seed, source_share=share)

    def _learner_config(self) -> learner.LearnerConfig:
        return learner.LearnerConfig(
            strength=settings.INFANTINO_CORRECTION_STRENGTH,
            tolerance=settings.INFANTINO_FORGETTING_TOLERANCE,
            guard=settings.INFANTINO_FORGETTING_GUARD,
        )

    def _registered(
        self,
        model: ExpressionModel,
        result: learner.UpdateResult,
        *,
        parent: str,
        baseline: Baseline,
        params: dict[str, Any],
        tags: dict[str, str],
        kind: str = Kind.ONLINE,
    ) -> Learned:
        """Register ``result`` onto ``parent`` (same extractor and calibration), keep it staged and its baseline
        remembered for the next update; the alias never moves here."""
        anchor, scores, _ = baseline
        version = self.registry().register(
            head=result.head,
            extractor_id=model.extractor_id,
            kind=kind,
            parent=parent,
            temperature=model.temperature,
            abstain_threshold=model.abstain_threshold,
            metrics={**result.metrics, **{f"baseline_{key}": value for key, value in scores.items()}},
            # Run params cost one call; each version tag costs one store transaction (~25 ms on SQLite).
            params={**params, "guard_reasons": "; ".join(result.reasons)[:4000] or "-"},
            tags={**tags, GUARD_TAG: result.guard, ANCHOR_TAG: anchor},
        )
        self.live.stage(model.with_head(result.head, version=version))
        self._remember_baseline(version, baseline)
        return Learned(
            version=version,
            parent=parent,
            accepted=result.accepted,
            guard=result.guard if result.accepted else "; ".join(result.reasons),
            extractor_id=model.extractor_id,
            took_waiting=result.took_waiting,
        )

    def warm_up(self) -> None:
        """Import MLflow's model-logging stack and load the live head and its reference data before the first label."""
        learner.warm_up()
        live = self.live_version()
        if live is not None:
            model = self._model(live)
            self._baseline(live, model)

    def _in_memory(self, version: str) -> ExpressionModel | None:
        """The model served or just learned in this process, when it is ``version``."""
        for model in (self.live.serving, self.live.staged):
            if model is not None and model.version == version:
                return model
        return None

    def _model(self, version: str) -> ExpressionModel:
        """``version`` as a model: from memory when this process holds it, else loaded (checked)."""
        model = self._in_memory(version)
        if model is not None:
            return model
        try:
            return self.registry().load(version)
        except NoModel:
            raise UnknownVersion(f"There is no model version {version}.") from None

    def _baseline(self, version: str, model: ExpressionModel) -> Baseline:
        """The offline-trained version the guard compares with, its scores on the reference data and its head."""
        with self._lock:
            known = self._baselines.get((settings.INFANTINO_MODEL_NAME, version))
        if known is not None:
            return known
        registry = self.registry()
        info = registry.version_info(version)
        if info.kind in ONLINE_KINDS and info.anchor:
            anchor, prefix = info.anchor, "baseline_"
            baseline = {name.removeprefix(prefix): v for name, v in info.metrics.items() if name.startswith(prefix)}
            anchor_head = self._model(anchor).head
        else:
            anchor, anchor_head = version, model.head
            reference = registry.load_reference(model.extractor_id)
            baseline = learner.evaluate(model.head, reference, temperature=model.temperature)
        self._remember_baseline(version, (anchor, baseline, anchor_head))
        return anchor, baseline, anchor_head

    def _remember_baseline(self, version: str, baseline: Baseline) -> None:
        """Kept for the versions the next labels learn onto: the newest few, so the next label reads no registry."""
        with self._lock:
            self._baselines[(settings.INFANTINO_MODEL_NAME, version)] = baseline
            while len(self._baselines) > BASELINES_KEPT:
                self._baselines.pop(next(iter(self._baselines)))

    # ---- full training ------------------------------------------------------------------------------------
    def retrain_verdict(self, *, candidate: str, live: str | None) -> GuardVerdict:
        """A retrained version goes live by itself only if it is at least as good on infants and forgets nothing."""
        if live is None:
            return GuardVerdict(True, "no model was live")
        new, old = self.version_info(candidate).metrics, self.version_info(live).metrics
        return training_runs.verdict(new, old, tolerance=settings.INFANTINO_FORGETTING_TOLERANCE)

    def train(self, run: TrainingRun) -> Trained:
        started = time.monotonic()
        version, metrics = training_runs.train(run, self.registry())
        return Trained(version=version, metrics=metrics, seconds=time.monotonic() - started)

    def bootstrap(
        self, *, fer_csv: Path | None, image_dir: Path | None, options: dict[str, Any], progress: Progress
    ) -> Trained:
        return training_runs.bootstrap(
            self.registry(), fer_csv=fer_csv, image_dir=image_dir, options=options, progress=progress
        )

    def face_detector_ready(self, name: str) -> None:
        """Make sure ``name`` can run: MTCNN's weights are fetched when absent; raises when they cannot be."""
        if name.startswith("mtcnn") and not weights_present():
            fetch_weights()

    def evaluate(self, data: Path, *, version: str | None, limit: int | None, progress: Progress) -> dict[str, Any]:
        try:
            model = self.registry().load(version)
        except NoModel as error:
            raise UnknownVersion(str(error)) from None
        return training_runs.evaluate(model, data, limit=limit, progress=progress)


def _rows(replay: Replay) -> learner.Rows | None:
    return None if replay.x is None or replay.y is None or not len(replay.y) else (replay.x, replay.y)


def _count(replay: Replay) -> int:
    return 0 if replay.y is None else len(replay.y)
