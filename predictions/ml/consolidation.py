"""Consolidation and label-noise scoring, as the MLflow backend does them (a mixin of ``MLflowBackend``).

A consolidation is a head refitted from scratch on every label plus the reference replay pool, fitted as the
anchor's own head was (``mlcore.consolidation``), judged by the forgetting guard against the live line's offline
anchor and registered as a version of the live line: kind ``online`` (so every walk to the anchor still works), its
parent the live version, tagged ``consolidation`` with the number of labels it holds. It never goes live here:
the alias service moves the alias once the caller has read the verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from django.conf import settings
from sklearn.neural_network import MLPClassifier

from mlcore import guard, learner
from mlcore.consolidation import refit_head, source_share_for
from mlcore.label_noise import LabelIssue, suspicious_labels
from mlcore.reference import ReferenceData
from predictions.ml import Learned, Replay

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel
    from mlcore.registry import Registry
    from predictions.ml.live import LiveModel

CONSOLIDATION_TAG = "consolidation"  # on a consolidated version: how many labels it was refitted on


class _Host(Protocol):
    """What the mixin needs of the backend it is mixed into."""

    live: LiveModel

    def registry(self) -> Registry: ...
    def extractor_id(self, version: str) -> str: ...
    def _model(self, version: str) -> ExpressionModel: ...
    def _baseline(self, version: str, model: ExpressionModel) -> tuple[str, dict[str, float], MLPClassifier]: ...
    def _remember_baseline(self, version: str, baseline: tuple[str, dict[str, float], MLPClassifier]) -> None: ...
    def _source_share(self, anchor: str) -> float: ...


class Consolidating:
    """``consolidate`` and ``label_issues`` for ``MLflowBackend``, kept apart so its module stays one page."""

    def consolidate(self: _Host, *, parent: str, labels: Replay, seed: int) -> Learned:
        """A head refitted on ``labels`` + replay, judged and registered onto ``parent`` (never made live here)."""
        model = self._model(parent)
        registry = self.registry()
        anchor, baseline, anchor_head = self._baseline(parent, model)
        reference = registry.load_reference(model.extractor_id)
        x, y = labels.x, labels.y
        if x is None or y is None:  # no label yet: the replay pool alone
            x, y = np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64)
        count = len(y)
        head = refit_head(x, y, reference=reference, seed=seed, source_share=self._source_share(anchor))
        metrics = learner.evaluate(head, reference, temperature=model.temperature)
        verdict, reasons = judged(head, parent=model.head, anchor=anchor_head, reference=reference, metrics=metrics)
        version = registry.register(
            head=head,
            extractor_id=model.extractor_id,
            kind="online",
            parent=parent,
            temperature=model.temperature,
            abstain_threshold=model.abstain_threshold,
            metrics={**metrics, **{f"baseline_{key}": value for key, value in baseline.items()}},
            params={"labels": count, "anchor": anchor, "guard_reasons": "; ".join(reasons)[:4000] or "-"},
            tags={CONSOLIDATION_TAG: str(count), "guard": verdict, "guard_anchor": anchor},
        )
        self.live.stage(model.with_head(head, version=version))
        self._remember_baseline(version, (anchor, baseline, anchor_head))
        accepted = verdict != learner.GUARD_FAILED
        return Learned(
            version=version,
            parent=parent,
            accepted=accepted,
            guard=verdict if accepted else "; ".join(reasons),
            extractor_id=model.extractor_id,
        )

    def label_issues(self: _Host, *, version: str, labels: Replay, seed: int) -> list[LabelIssue]:
        """Confident learning on ``labels`` (embeddings under ``version``'s extractor), with its replay pool."""
        if labels.x is None or labels.y is None:
            return []
        reference = self.registry().load_reference(self.extractor_id(version))
        anchor, _, _ = self._baseline(version, self._model(version))
        share = self._source_share(anchor)
        return suspicious_labels(labels.x, labels.y, reference=reference, seed=seed, source_share=share)

    def _source_share(self: _Host, anchor: str) -> float:
        """FER2013's share of a refit's draws: as the anchor's own head was fitted (``mlcore.consolidation``)."""
        return source_share_for(self.registry().version_info(anchor).tags.get("kind", ""))


def judged(
    head: MLPClassifier,
    *,
    parent: MLPClassifier,
    anchor: MLPClassifier,
    reference: ReferenceData | None,
    metrics: dict[str, float],
) -> tuple[str, tuple[str, ...]]:
    """The forgetting guard's verdict on a consolidated head and its reasons, as an online update gets them.

    Judged image by image against the anchor and against the live head it would replace, so a refit that
    loses what the online line had gained is held back like a label that did harm; ``metrics`` gains the
    guard's own numbers.
    """
    if not settings.INFANTINO_FORGETTING_GUARD:
        return learner.GUARD_OFF, ()
    if reference is None:
        return learner.GUARD_NO_REFERENCE, ()
    pool = guard.pool_of(reference)
    before = None if parent is anchor else guard.predict(parent, pool)
    verdict = guard.judge(
        pool,
        guard.predict(head, pool),
        guard.predict(anchor, pool),
        before,
        tolerance=settings.INFANTINO_FORGETTING_TOLERANCE,
    )
    metrics.update(verdict.metrics)
    return (learner.GUARD_PASSED if verdict.passed else learner.GUARD_FAILED), verdict.reasons
