"""Reads for model operations: registered versions, their details, the audit log and retrain jobs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from modelops.models import ModelChange, TrainingJob
from predictions.ml import LABELS, DomainScores, ReliabilityBin, UnknownVersion, VersionInfo, backend
from predictions.selectors import predictions_labeled_to_consensus_count

DOMAINS = [("infant", "Infant"), ("fer", "FER2013")]  # the metric prefix, and its title on the pages


@dataclass(frozen=True)
class VersionRow:
    version: str
    created: datetime
    kind: str
    parent: str | None
    is_live: bool
    promoted_by: str
    learned_from: str  # the labels (annotation ids / label) an online version learned from
    scores: Mapping[str, DomainScores]  # per domain in ``DOMAINS``


def model_versions() -> list[VersionRow]:
    """Every registered version, newest first."""
    return [_row(info) for info in backend().versions()]


def _row(info: VersionInfo) -> VersionRow:
    return VersionRow(
        version=info.version,
        created=datetime.fromtimestamp(info.created_ms / 1000, tz=UTC),
        kind=info.kind,
        parent=info.parent,
        is_live=info.is_live,
        promoted_by=info.promoted_by,
        learned_from=_learned_from(info),
        scores=info.scores,
    )


def _learned_from(info: VersionInfo) -> str:
    if info.is_consolidation:
        return f"consolidation: every label so far ({info.consolidated_labels})"
    annotations = ",".join(map(str, info.annotation_ids))
    if info.label and annotations:
        return f"{info.label} (annotation {annotations})"
    return info.label or annotations


@dataclass(frozen=True)
class VersionDetail:
    row: VersionRow
    provenance: Sequence[tuple[str, str]]  # every parameter, then every tag, as registered
    confusion: dict[str, list[list[int]]]  # domain → matrix (rows: true label, columns: predicted)
    lineage: list[str]  # this version, its parent, the parent's parent, …
    domains: list[dict[str, Any]] = field(default_factory=list)  # per domain: its scores and confusion, for pages


def model_version_detail(*, version: str) -> VersionDetail | None:
    """One version with its lineage and per-domain scores; None when there is no such version."""
    model = backend()
    try:
        info = model.version_info(version)
    except UnknownVersion:
        return None
    rows = {row.version: row for row in model_versions()}
    lineage, cursor = [], info.version
    while cursor and cursor not in lineage and len(lineage) < 50:
        lineage.append(cursor)
        cursor = rows[cursor].parent if cursor in rows else None
    row = rows[info.version]
    confusion = model.version_json(version, "confusion.json") or {}
    return VersionDetail(
        row=row,
        provenance=info.provenance,
        confusion=confusion,
        lineage=lineage,
        domains=_domain_tables(row.scores, confusion),
    )


def _domain_tables(scores: Mapping[str, DomainScores], confusion: dict[str, list[list[int]]]) -> list[dict[str, Any]]:
    tables = []
    for domain, title in DOMAINS:
        found, rows = scores[domain], []
        for label, counts in zip(LABELS, confusion.get(domain) or [], strict=False):
            total = sum(counts) or 1
            rows.append({"label": label, "cells": [{"count": c, "share": round(100 * c / total)} for c in counts]})
        tables.append(
            {
                "domain": domain,
                "title": title,
                "accuracy": found.accuracy,
                "macro_f1": found.macro_f1,
                "ece": found.ece,
                "recall": list(found.recall.items()),
                "confusion": rows,
                "reliability": found.reliability,
            }
        )
    return tables


def model_changes(*, limit: int = 20) -> QuerySet[ModelChange]:
    return ModelChange.objects.select_related("user")[:limit]


def training_job_current() -> TrainingJob | None:
    """The retrain that is queued or running, else the most recent one."""
    return (
        TrainingJob.objects.filter(active_slot__isnull=False).select_related("started_by").first()
        or TrainingJob.objects.select_related("started_by").first()
    )


def training_job_payload(job: TrainingJob) -> dict[str, Any]:
    """A retrain as the dashboard's script reads it, on the page and over the websocket."""
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "result_version": job.result_version,
        "promoted": job.promoted,
        "message": job.message,
        "cancel_requested": job.cancel_requested,
        "started_by": job.started_by.get_username() if job.started_by else None,
        "created": job.created.isoformat() if job.created else None,
        "finished": job.finished.isoformat() if job.finished else None,
    }


def training_job_current_payload() -> dict[str, Any] | None:
    job = training_job_current()
    return training_job_payload(job) if job else None


# The training stages (mlcore's progress events, and the job's own queued/done) as every visitor reads them.
PUBLIC_STAGES = {
    "queued": "Waiting to start",
    "faces": "Preparing faces",
    "fer": "Learning from adult faces",
    "adapt": "Adapting to infant faces",
    "infant": "Learning from infant faces",
    "embed": "Reading every face again",
    "head": "Fitting the classifier",
    "evaluate": "Checking the new model",
    "done": "Finishing",
}
PUBLIC_STAGE_OTHER = "Training"  # a stage not listed: its internal name is never shown


def training_public_payload(job: Mapping[str, Any]) -> dict[str, Any]:
    """What every visitor may see of a retrain's payload: its status, stage in words, percent done, minutes left."""
    status = str(job.get("status") or "")
    progress = job.get("progress") or {}
    fraction = 1.0 if status == TrainingJob.Status.SUCCEEDED else _number(progress.get("fraction")) or 0.0
    eta = _number(progress.get("eta_seconds")) if status == TrainingJob.Status.RUNNING else None
    return {
        "status": status,
        "stage": PUBLIC_STAGES.get(str(progress.get("stage")), PUBLIC_STAGE_OTHER),
        "percent": max(0, min(100, math.floor(100 * fraction))),  # floor: never 100 % before it is done
        "minutes_left": max(1, math.ceil(eta / 60)) if eta is not None else None,
    }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def training_public_current() -> dict[str, Any] | None:
    """The queued or running retrain as every visitor sees it; None when none is."""
    job = TrainingJob.objects.filter(active_slot__isnull=False).first()
    return training_public_payload({"status": job.status, "progress": job.progress}) if job else None


@dataclass(frozen=True)
class VersionCalibration:
    """How well one version's confidence matches its accuracy on a domain's validation photos."""

    version: str
    title: str  # the domain, as the page names it
    bins: Sequence[ReliabilityBin] | None  # None: the version stored no reliability bins
    accuracy: float | None
    macro_f1: float | None
    ece: float | None

    @property
    def answers(self) -> int:
        return sum(b.count for b in self.bins or [])


def version_calibration(*, row: VersionRow, domain: str = "infant") -> VersionCalibration:
    scores = row.scores[domain]
    return VersionCalibration(
        version=row.version,
        title=dict(DOMAINS)[domain],
        bins=scores.reliability,
        accuracy=scores.accuracy,
        macro_f1=scores.macro_f1,
        ece=scores.ece,
    )


@dataclass(frozen=True)
class Dashboard:
    versions: list[VersionRow]
    changes: list[ModelChange]
    job: TrainingJob | None
    job_payload: dict[str, Any] | None
    calibration: VersionCalibration | None  # the chosen version's, else the live one's, else the newest's
    labeled_since_retrain: int  # images labeled to consensus since the last retrain was queued


def labeled_since_retrain() -> int:
    """Images labeled to consensus since the last retrain was queued (its options record the count then)."""
    last = TrainingJob.objects.order_by("-pk").first()
    before = int(last.options.get(TrainingJob.LABELED_OPTION, 0)) if last is not None else 0
    return max(0, predictions_labeled_to_consensus_count() - before)


def dashboard_get(*, calibration_version: str = "") -> Dashboard:
    """Everything the dashboard shows: every version, the recent alias moves, the current retrain, one calibration."""
    job = training_job_current()
    versions = model_versions()
    chosen = next((v for v in versions if v.version == calibration_version), None)
    chosen = chosen or next((v for v in versions if v.is_live), None) or next(iter(versions), None)
    return Dashboard(
        versions=versions,
        changes=list(model_changes()),
        job=job,
        job_payload=training_job_payload(job) if job else None,
        calibration=version_calibration(row=chosen) if chosen else None,
        labeled_since_retrain=labeled_since_retrain(),
    )
