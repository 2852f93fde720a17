"""An in-memory backend for tests: instant, deterministic, and as strict as the real one about versions.

A version is a vector of class scores. A prediction scores the image's mean brightness against them,
learning a label raises that label's score, and every alias move is kept in ``moves`` so a test can
see exactly what happened. Name it in ``INFANTINO_ML_BACKEND`` (or use the ``fake_backend`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mlcore.datasets import load_labeled
from mlcore.label_noise import LabelIssue, suspicious_labels
from mlcore.labels import LABELS
from mlcore.learner import UNLEARN_GUARD
from mlcore.model import Prediction
from mlcore.saliency import Saliency, overlay_png
from mlcore.uncertainty import normalised_entropy
from mlcore.versions import (
    ANCHOR_TAG,
    ANNOTATIONS_TAG,
    CONSOLIDATION_TAG,
    EXTRACTOR_TAG,
    GUARD_TAG,
    KIND_TAG,
    LABEL_TAG,
    LIVE_ALIAS,
    PARENT_TAG,
)
from predictions.ml import (
    ONLINE_KINDS,
    Embedded,
    Explanation,
    FaceChooser,
    GuardVerdict,
    Kind,
    LabelsToLearn,
    Learned,
    ModelRefused,
    ModelUnavailable,
    Outcome,
    Progress,
    ProgressEvent,
    Replay,
    Trained,
    TrainingRun,
    UnknownVersion,
    VersionInfo,
)

EXTRACTOR_ID = "fake-extractor"
DIMENSIONS = 64
FLAT_STD = 2.0  # grey levels: an image this even is "no face" to the fake's face finder


@dataclass(frozen=True)
class FakeServed:
    version: str
    extractor_id: str
    scores: np.ndarray

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = self.scores[None, :] + np.asarray(embeddings, dtype=np.float32)[:, : len(LABELS)]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class FakeBackend:
    versions_made: dict[str, VersionInfo] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # versions whose files "fail their checks"
    moves: list[tuple[str, str]] = field(default_factory=list)  # (version, by) for every alias move
    hold_back: bool = False  # learned versions fail the guard
    live: str | None = None
    serving: str | None = None
    explained: int = 0  # saliency maps computed, so a test can see the cache at work

    def add_version(
        self,
        *,
        kind: str = "test",
        parent: str | None = None,
        label: str | None = None,
        tags: dict[str, str] | None = None,
        **metrics: float,
    ) -> str:
        """Register a version (its scores favour ``label`` if given) with ``tags`` beside its own; return its number."""
        version = str(len(self.versions_made) + 1)
        base = self.scores[parent].copy() if parent else np.zeros(len(LABELS), dtype=np.float32)
        if label is not None:
            base[LABELS.index(label)] += 1.0
        self.scores[version] = base
        own = {KIND_TAG: kind, EXTRACTOR_TAG: EXTRACTOR_ID, **({PARENT_TAG: parent} if parent else {})}
        self.versions_made[version] = VersionInfo(
            version=version,
            created_ms=int(time.time() * 1000),
            run_id=f"fake-run-{version}",
            tags={**own, **(tags or {})},
            metrics={"infant_accuracy": 0.5, "fer_accuracy": 0.5, **metrics},
            params={},
        )
        return version

    # ---- serving ------------------------------------------------------------------------------------------
    def predict(self, image: Image.Image) -> Outcome:
        served = self.served()
        embedding = self._embedding(image)
        probabilities = served.probabilities(embedding[None, :])[0]
        top = LABELS[int(np.argmax(probabilities))]
        prediction = Prediction(
            label=top,
            top_label=top,
            probabilities={label: float(p) for label, p in zip(LABELS, probabilities, strict=True)},
            uncertainty=float(normalised_entropy(probabilities[None, :])[0]),
            model_version=served.version,
            face_box=None,
        )
        return Outcome(prediction=prediction, embedding=embedding, extractor_id=EXTRACTOR_ID)

    def predict_many(self, images: Sequence[Image.Image]) -> list[Outcome]:
        return [self.predict(image) for image in images]

    def predict_faces(self, images: Sequence[Image.Image], *, follow: FaceChooser) -> list[Outcome | None]:
        """The fake's one face is the whole image, unless the image is one flat colour: that has no face."""
        outcomes: list[Outcome | None] = []
        for image in images:
            flat = float(np.asarray(image.convert("L"), dtype=np.float32).std()) < FLAT_STD
            box = follow([] if flat else [(0, 0, image.width, image.height)])
            outcome = None if box is None else self.predict(image)
            if outcome is not None:
                outcome = Outcome(
                    prediction=replace(outcome.prediction, face_box=box),
                    embedding=outcome.embedding,
                    extractor_id=outcome.extractor_id,
                )
            outcomes.append(outcome)
        return outcomes

    def embed(self, image: Image.Image, *, version: str) -> Embedded:
        self.version_info(version)
        return Embedded(vector=self._embedding(image), face_box=None, extractor_id=EXTRACTOR_ID)

    def explain(self, image: Image.Image) -> Explanation:
        """The fake's true saliency: its class scores read only the top row of the 8×8 thumbnail."""
        outcome = self.predict(image)
        top = outcome.prediction.top_label
        heat = np.zeros((8, 8), dtype=np.float32)
        heat[0, LABELS.index(top)] = 1.0
        side = 64
        found = Saliency(
            label=top,
            probability=outcome.prediction.probabilities[top],
            heatmap=np.kron(heat, np.ones((side // 8, side // 8), dtype=np.float32)),
            crop=image.convert("RGB").resize((side, side)),
            face_box=None,
            method="exact",
        )
        self.explained += 1
        return Explanation(overlay_png(found), top, found.probability, outcome.prediction.model_version, "exact")

    def served(self) -> FakeServed:
        if self.serving is None or self.serving != self.live:
            if self.live is None:
                raise ModelUnavailable("No model is trained yet: run `python manage.py bootstrap_model`.")
            self.serving = self.live
        return FakeServed(version=self.serving, extractor_id=EXTRACTOR_ID, scores=self.scores[self.serving])

    def extractor_id(self, version: str) -> str:
        return self.version_info(version).extractor_id

    def serve(self, version: str) -> None:
        self.version_info(version)
        if version in self.refused:
            raise ModelRefused(f"Version {version} cannot be served: its files fail their checksums")
        self.serving = version

    # ---- the registry ---------------------------------------------------------------------------------------
    def live_version(self) -> str | None:
        return self.live

    def version_info(self, version: str) -> VersionInfo:
        if version not in self.versions_made:
            raise UnknownVersion(f"There is no model version {version}.")
        # Parsed again from the raw tags and metrics, which a test may have changed since.
        return replace(self.versions_made[version], aliases=(LIVE_ALIAS,) if version == self.live else ())

    def versions(self) -> list[VersionInfo]:
        return [self.version_info(version) for version in sorted(self.versions_made, key=int, reverse=True)]

    def version_json(self, version: str, name: str) -> Any | None:
        self.version_info(version)
        return None

    def set_live(self, version: str, *, by: str) -> None:
        self.version_info(version)
        self.live = version
        self.moves.append((version, by))

    # ---- learning and training ------------------------------------------------------------------------------
    def learn(self, labels: LabelsToLearn, *, parent: str) -> Learned:
        """Each new label raises its class's score once, and the waiting ones too unless ``hold_back``."""
        names = [label.label for label in labels.new]
        learned = {LABEL_TAG: ",".join(names), ANNOTATIONS_TAG: ",".join(map(str, labels.annotation_ids))}
        version = self.add_version(kind=Kind.ONLINE, parent=parent, tags=learned)
        took_waiting = not self.hold_back and labels.waiting.y is not None and len(labels.waiting.y) > 0
        for index in [LABELS.index(name) for name in names] + (list(labels.waiting.y) if took_waiting else []):
            self.scores[version][int(index)] += 1.0
        guard = "failed: the fake holds every label back" if self.hold_back else "passed"
        return Learned(
            version=version,
            parent=parent,
            accepted=not self.hold_back,
            guard=guard,
            extractor_id=EXTRACTOR_ID,
            took_waiting=took_waiting,
        )

    def refit(self, *, parent: str, replay: Replay, reason: str) -> Learned:
        """The anchor's scores (the last version not made online) plus one per remaining label: nothing else."""
        anchor = self._anchor(parent)
        version = self.add_version(kind=Kind.UNLEARN, parent=parent, tags={"reason": reason, ANCHOR_TAG: anchor})
        scores = self.scores[anchor].copy()
        for index in [] if replay.y is None else replay.y:
            scores[int(index)] += 1.0
        self.scores[version] = scores
        return Learned(version=version, parent=parent, accepted=True, guard=UNLEARN_GUARD, extractor_id=EXTRACTOR_ID)

    def consolidate(self, *, parent: str, labels: Replay, seed: int) -> Learned:
        """As ``refit`` from every label, tagged as a consolidation; held back like a label when ``hold_back``."""
        anchor = self._anchor(parent)
        guard = "failed: the fake holds every version back" if self.hold_back else "passed"
        count = "0" if labels.y is None else str(len(labels.y))
        made = {CONSOLIDATION_TAG: count, GUARD_TAG: guard, ANCHOR_TAG: anchor}
        version = self.add_version(kind=Kind.ONLINE, parent=parent, tags=made)
        scores = self.scores[anchor].copy()
        for index in [] if labels.y is None else labels.y:
            scores[int(index)] += 1.0
        self.scores[version] = scores
        return Learned(
            version=version, parent=parent, accepted=not self.hold_back, guard=guard, extractor_id=EXTRACTOR_ID
        )

    def label_issues(self, *, version: str, labels: Replay, seed: int) -> list[LabelIssue]:
        """The real rule on the stored embeddings, without a replay pool (the fake has none)."""
        self.version_info(version)
        if labels.x is None or labels.y is None:
            return []
        return suspicious_labels(labels.x, labels.y, reference=None, seed=seed)

    def _anchor(self, version: str) -> str:
        """The last version up ``version``'s line not made online."""
        while (info := self.version_info(version)).kind in ONLINE_KINDS and info.parent:
            version = info.parent
        return version

    def retrain_verdict(self, *, candidate: str, live: str | None) -> GuardVerdict:
        if live is None:
            return GuardVerdict(True, "no model was live")
        new = self.version_info(candidate).metrics["infant_accuracy"]
        old = self.version_info(live).metrics["infant_accuracy"]
        return GuardVerdict(new >= old, f"infant accuracy {new:.3f} against {old:.3f}")

    def train(self, run: TrainingRun) -> Trained:
        for step in (1, 2):
            if run.progress is not None:
                run.progress(ProgressEvent(stage="fake", step=step, total=2))
        return Trained(version=self.add_version(kind=Kind.RETRAIN), metrics={}, seconds=0.0)

    def bootstrap(
        self, *, fer_csv: Path | None, image_dir: Path | None, options: dict[str, Any], progress: Progress
    ) -> Trained:
        return Trained(version=self.add_version(kind=Kind.BOOTSTRAP), metrics={}, seconds=0.0)

    def evaluate(self, data: Path, *, version: str | None, limit: int | None, progress: Progress) -> dict[str, Any]:
        """Accuracy of ``version`` (default: the live one) on a labeled folder, scored the fake's way."""
        version = version or self.served().version
        labeled = load_labeled(data, limit=limit)
        scores = FakeServed(version=version, extractor_id=EXTRACTOR_ID, scores=self.version_scores(version))
        embeddings = np.stack([self._embedding(image) for image in labeled.images])
        correct = scores.probabilities(embeddings).argmax(axis=1) == np.asarray(labeled.labels)
        return {"n": len(correct), "accuracy": float(correct.mean()), "model_version": version}

    def version_scores(self, version: str) -> np.ndarray:
        self.version_info(version)
        return self.scores[version]

    def warm_up(self) -> None:
        """Nothing to load."""

    def face_detector_ready(self, name: str) -> None:
        """The fake crops no faces: every detector is ready."""

    @staticmethod
    def _embedding(image: Image.Image) -> np.ndarray:
        """64 numbers from the image itself: its 8×8 grey thumbnail, scaled to 0..1."""
        thumbnail = image.convert("L").resize((8, 8))
        return np.asarray(thumbnail, dtype=np.float32).reshape(DIMENSIONS) / 255.0
