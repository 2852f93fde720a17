"""What a registered model version is, read once from the tags and metrics it was registered with.

MLflow keeps a version as string tags and its run's flat float metrics; which key means what is written down here,
beside the record that parses them, so the apps read typed fields and never a key. The raw mappings stay on the
record for the registry and the backend alone (checksums, calibration, guard baselines). Apart from
``mlcore.registry`` so that the door (``predictions.ml``) can hand the record and its kinds out without loading MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mlcore.labels import LABELS
from mlcore.metrics import ReliabilityBin, reliability_from_metrics

LIVE_ALIAS = "champion"  # the registry alias that names the version every process serves


class Kind(StrEnum):
    """How a version was made: its ``kind`` tag."""

    BOOTSTRAP = "bootstrap"  # the quick first model a fresh install serves until a full training replaces it
    RETRAIN = "retrain"  # a full training: extractor and head, its head fitted on infant rows only
    ONLINE = "online"  # the live line's head refitted on labels onto its anchor (a consolidation is one too)
    UNLEARN = "unlearn"  # refitted from the anchor without a deleted photo's labels, made live unjudged


# Made from the live line by labels, onto the offline-trained version it descends from: its anchor.
ONLINE_KINDS = frozenset({Kind.ONLINE, Kind.UNLEARN})

# The version tags the record reads, as the registry and the backend write them.
KIND_TAG = "kind"
EXTRACTOR_TAG = "extractor_id"
PARENT_TAG = "parent_version"
ANCHOR_TAG = "guard_anchor"  # on an online version: the anchor its guard judged it against
LABEL_TAG = "label"  # the label (or comma-separated labels) an online version learned
ANNOTATIONS_TAG = "annotation_ids"  # comma-separated primary keys of the annotations it learned
GUARD_TAG = "guard"  # the guard's verdict on an online version
CONSOLIDATION_TAG = "consolidation"  # on a consolidation: how many labels it was refitted on
PROMOTED_BY_TAG = "promoted_by"  # who last moved the live alias to it

DOMAINS = ("infant", "fer")  # the validation photos every version is scored on: the metric names' prefix


@dataclass(frozen=True)
class DomainScores:
    """A version's scores on one domain's validation photos; None where it logged none."""

    accuracy: float | None
    macro_f1: float | None
    ece: float | None
    recall: Mapping[str, float | None]  # per label, in ``LABELS`` order
    reliability: tuple[ReliabilityBin, ...] | None  # None: the version stored no reliability bins


@dataclass(frozen=True)
class VersionInfo:
    """One registered version: its raw tags and metrics, parsed when the record is made into the fields below them.

    The parsed fields cannot disagree with the raw mappings (``dataclasses.replace`` parses again); apps outside
    ``predictions.ml`` read only them (``tests/site/test_architecture.py`` holds every app to it).
    """

    version: str  # opaque: compared and shown, never counted on
    created_ms: int
    run_id: str
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    params: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    kind: str = field(init=False)  # a ``Kind`` for every version this code registers; "" when untagged
    extractor_id: str = field(init=False)
    parent: str | None = field(init=False)  # the version it was made from
    anchor: str | None = field(init=False)  # an online version's offline-trained ancestor, as its guard recorded
    label: str = field(init=False)
    annotation_ids: tuple[int, ...] = field(init=False)
    guard: str = field(init=False)
    consolidated_labels: int | None = field(init=False)  # None: not a consolidation
    promoted_by: str = field(init=False)
    scores: Mapping[str, DomainScores] = field(init=False)  # one per name in ``DOMAINS``

    def __post_init__(self) -> None:
        tags = self.tags
        parsed = {
            "kind": tags.get(KIND_TAG, ""),
            "extractor_id": tags.get(EXTRACTOR_TAG, ""),
            "parent": tags.get(PARENT_TAG) or None,
            "anchor": tags.get(ANCHOR_TAG) or None,
            "label": tags.get(LABEL_TAG, ""),
            "annotation_ids": tuple(int(pk) for pk in tags.get(ANNOTATIONS_TAG, "").split(",") if pk.isdigit()),
            "guard": tags.get(GUARD_TAG, ""),
            "consolidated_labels": _count(tags.get(CONSOLIDATION_TAG, "")),
            "promoted_by": tags.get(PROMOTED_BY_TAG, ""),
            "scores": {domain: domain_scores(self.metrics, domain) for domain in DOMAINS},
        }
        for name, value in parsed.items():
            object.__setattr__(self, name, value)  # frozen: the one moment these fields are set

    @property
    def is_live(self) -> bool:
        return LIVE_ALIAS in self.aliases

    @property
    def is_consolidation(self) -> bool:
        return self.consolidated_labels is not None

    @property
    def provenance(self) -> tuple[tuple[str, str], ...]:
        """Every run parameter, then every tag, as registered: what the version page lists for staff to read."""
        return (*self.params.items(), *self.tags.items())


def domain_scores(metrics: Mapping[str, float], domain: str) -> DomainScores:
    """``domain``'s scores among a version's flat metrics (``<domain>_accuracy``, ``<domain>_recall_<label>`` …)."""
    bins = reliability_from_metrics(metrics, domain)
    return DomainScores(
        accuracy=metrics.get(f"{domain}_accuracy"),
        macro_f1=metrics.get(f"{domain}_macro_f1"),
        ece=metrics.get(f"{domain}_ece"),
        recall={label: metrics.get(f"{domain}_recall_{label}") for label in LABELS},
        reliability=tuple(bins) if bins is not None else None,
    )


def _count(value: str) -> int | None:
    return int(value) if value.isdigit() else None
