"""A version's record: its tags and metrics parsed once into typed fields, as the registry writes them."""

from __future__ import annotations

import uuid
from dataclasses import replace

import numpy as np

from mlcore.labels import LABELS
from mlcore.metrics import reliability_bins, reliability_metrics
from mlcore.registry import Registry
from mlcore.versions import LIVE_ALIAS, ONLINE_KINDS, Kind, VersionInfo
from tests.conftest import tiny_head


def record(
    tags: dict[str, str] | None = None, metrics: dict[str, float] | None = None, params: dict[str, str] | None = None
) -> VersionInfo:
    return VersionInfo(
        version="7", created_ms=0, run_id="run", tags=tags or {}, metrics=metrics or {}, params=params or {}
    )


def test_an_online_versions_tags_read_as_its_kind_lineage_labels_and_guard():
    info = record(
        {
            "kind": "online",
            "extractor_id": "ex-1",
            "parent_version": "6",
            "guard_anchor": "3",
            "label": "happy,sad",
            "annotation_ids": "12,13",
            "guard": "passed",
            "promoted_by": "alice",
        }
    )

    assert (info.kind, info.extractor_id, info.parent, info.anchor) == (Kind.ONLINE, "ex-1", "6", "3")
    assert (info.label, info.annotation_ids, info.guard, info.promoted_by) == ("happy,sad", (12, 13), "passed", "alice")
    assert info.kind in ONLINE_KINDS and not info.is_consolidation


def test_a_version_without_those_tags_has_no_parent_anchor_labels_or_kind():
    info = record({"kind": "bootstrap", "parent_version": ""})  # the registry writes an empty parent for a first model

    assert (info.parent, info.anchor, info.label, info.annotation_ids) == (None, None, "", ())
    assert info.kind == Kind.BOOTSTRAP and info.kind not in ONLINE_KINDS
    assert record().kind == ""


def test_annotation_ids_keep_only_whole_numbers():
    assert record({"annotation_ids": "4,,x,5"}).annotation_ids == (4, 5)


def test_a_consolidation_says_how_many_labels_it_was_refitted_on():
    info = record({"kind": "online", "consolidation": "6"})

    assert info.is_consolidation and info.consolidated_labels == 6
    assert record({"consolidation": "0"}).consolidated_labels == 0  # none yet is still a consolidation


def test_scores_are_read_per_domain_with_none_where_nothing_was_logged():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(len(LABELS)), size=40)
    answers = rng.integers(0, len(LABELS), size=40)
    bins = reliability_bins(probabilities, answers)
    metrics = {
        "infant_accuracy": 0.61,
        "infant_macro_f1": 0.5,
        "infant_ece": 0.07,
        "infant_recall_happy": 0.9,
        "fer_accuracy": 0.55,
        **reliability_metrics(bins, "infant"),
    }

    info = record(metrics=metrics)

    infant, fer = info.scores["infant"], info.scores["fer"]
    assert (infant.accuracy, infant.macro_f1, infant.ece) == (0.61, 0.5, 0.07)
    assert list(infant.recall) == list(LABELS)
    assert infant.recall["happy"] == 0.9 and infant.recall["sad"] is None
    assert infant.reliability == tuple(bins)
    assert (fer.accuracy, fer.macro_f1, fer.ece, fer.reliability) == (0.55, None, None, None)


def test_a_changed_copy_is_parsed_again_so_its_fields_never_disagree_with_its_tags():
    tags = {"kind": "online", "label": "sad"}
    info = record(tags)
    tags["label"] = "angry"

    live = replace(info, aliases=(LIVE_ALIAS,))

    assert (info.label, live.label) == ("sad", "angry")
    assert live.is_live and not info.is_live


def test_provenance_lists_every_parameter_then_every_tag():
    info = record({"kind": "retrain", "fitted_on": "train"}, params={"epochs": "3"})

    assert info.provenance == (("epochs", "3"), ("kind", "retrain"), ("fitted_on", "train"))


def test_the_registry_reads_back_as_typed_fields_what_it_wrote(mlflow_store, tiny_extractor_id):
    registry = Registry(mlflow_store["uri"], artifact_root=mlflow_store["artifacts"], model_name=uuid.uuid4().hex)
    first = registry.register(head=tiny_head(), extractor_id=tiny_extractor_id, kind=Kind.RETRAIN)
    online = registry.register(
        head=tiny_head(1),
        extractor_id=tiny_extractor_id,
        kind=Kind.ONLINE,
        parent=first,
        metrics={"infant_accuracy": 0.7},
        tags={"label": "fear", "annotation_ids": "3", "guard": "passed", "guard_anchor": first},
    )
    registry.set_live(online, by="alice")

    info = registry.version_info(online)
    newest, oldest = registry.versions()

    assert (info.kind, info.parent, info.anchor, info.extractor_id) == (Kind.ONLINE, first, first, tiny_extractor_id)
    assert (info.label, info.annotation_ids, info.guard, info.promoted_by) == ("fear", (3,), "passed", "alice")
    assert info.scores["infant"].accuracy == 0.7 and info.is_live
    assert (newest.version, newest.is_live, newest.label) == (online, True, "fear")
    assert (oldest.kind, oldest.parent, oldest.is_live) == (Kind.RETRAIN, None, False)
