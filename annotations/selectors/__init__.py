"""Reads for labeling: the queue, progress, agreement and conflicts, per-annotator statistics, blind mode."""

from __future__ import annotations

from annotations.selectors.agreement import (
    AgreementSummary,
    Conflict,
    ImageAgreement,
    adjudications_recent,
    agreement_summary,
    conflicts_to_settle,
)
from annotations.selectors.blind import Blindness, blindness_for, labeling_settings
from annotations.selectors.progress import LabelingProgress, labeling_progress
from annotations.selectors.queue import QueueItem, queue_next
from annotations.selectors.stats import AnnotatorStats, annotator_statistics
from annotations.selectors.votes import annotation_get_visible

__all__ = [
    "AgreementSummary",
    "AnnotatorStats",
    "Blindness",
    "Conflict",
    "ImageAgreement",
    "LabelingProgress",
    "QueueItem",
    "adjudications_recent",
    "agreement_summary",
    "annotation_get_visible",
    "annotator_statistics",
    "blindness_for",
    "conflicts_to_settle",
    "labeling_progress",
    "labeling_settings",
    "queue_next",
]
