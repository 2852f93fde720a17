"""Forgetting a photo: the live head refitted without its labels, made live as a new version with the reason.

A learned photo that is deleted, or whose parent stops sharing it, has left its labels in the live head (its
own update and the replay of later ones). Under the writer lock the backend refits the live version's head
from its offline anchor's reference data and every label still usable, and the alias service makes that
version live: a lineage entry (``unlearn``) that names the image ids, never a person.
"""

from __future__ import annotations

import logging
import time

from annotations.learning import replay
from annotations.learning.writer import single_writer
from annotations.models import Annotation
from modelops.models import ModelChange
from modelops.services import live_version_move
from predictions import ml

logger = logging.getLogger(__name__)


def unlearn(*, reason: str) -> str | None:
    """Refit the live head without the labels nobody may learn from any more; returns the new live version."""
    with single_writer():
        return unlearn_locked(reason=reason)


def unlearn_locked(*, reason: str) -> str | None:
    """``unlearn`` for a caller that holds the writer lock already (undo across an earlier refit)."""
    started = time.monotonic()
    parent = ml.backend().live_version()
    if parent is None:
        return None  # no model is live: none carries anything
    extractor_id = ml.backend().extractor_id(parent)
    # The labels the line had learned, the photos gone: unjudged, so none the guard held back sneaks in.
    remaining = replay.labeled(extractor_id=extractor_id, statuses=(Annotation.Status.LEARNED,)).rows
    refitted = ml.backend().refit(parent=parent, replay=remaining, reason=reason)
    live_version_move(version=refitted.version, action=ModelChange.Action.UNLEARN, by="unlearn", reason=reason)
    logger.info(
        "version %s refitted from its anchor with %d remaining labels (%s): %.0f ms",
        refitted.version,
        0 if remaining.y is None else len(remaining.y),
        reason,
        1000 * (time.monotonic() - started),
    )
    return refitted.version
