"""Taking a label back: live returns to the version before it, and labels learned after it are learned again."""

from __future__ import annotations

import logging

from annotations.learning.lineage import live_line
from annotations.learning.online import learn_locked
from annotations.learning.unlearn import unlearn_locked
from annotations.learning.writer import single_writer
from annotations.models import Annotation
from modelops.models import ModelChange
from modelops.services import live_version_move
from predictions import ml

logger = logging.getLogger(__name__)


def undo_version(*, version: str, parent: str) -> str | None:
    """Take back ``version`` (made from an undone label): live goes to ``parent``; later labels are re-learned.

    Returns the version live afterwards, or None when ``version`` was not in the live line (nothing moves).
    """
    if not version:
        return None
    with single_writer():
        line = live_line(ml.backend().live_version(), down_to=version)
        if version not in line:
            return None  # undone already (a re-run); labels it left waiting are learned by their jobs or the sweep
        after = line[: line.index(version)]  # versions built on the undone one, newest first
        if any(ml.backend().version_info(made).kind == ml.Kind.UNLEARN for made in after):
            # Going back past a refit would bring back the photos it forgot: refit again, without this label too.
            return unlearn_locked(reason=f"version {version} was undone after photos were forgotten")
        relearn = list(Annotation.objects.filter(model_version__in=[version, *after]).order_by("created", "id"))
        # Waiting before the alias moves: a worker that dies in between leaves labels to learn again, never
        # labels recorded in versions that are no longer live.
        Annotation.objects.filter(pk__in=[a.pk for a in relearn]).update(
            status=Annotation.Status.QUEUED, model_version="", parent_version="", guard_note=""
        )
        live_version_move(
            version=parent, action=ModelChange.Action.UNDO, by="undo", reason=f"version {version} was undone"
        )
        logger.info("undo of version %s: live is %s again; re-learning %d later labels", version, parent, len(relearn))
        for annotation in relearn:
            learn_locked(annotation.pk)
        return ml.backend().live_version()
