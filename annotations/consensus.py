"""Which label decided an image: one rule, used by learning, export, statistics, agreement and progress alike."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from annotations.agreement import consensus, labels_needed


def decided_label(labels: Sequence[str], *, adjudicated: str | None = None, suspect: bool = False) -> str | None:
    """The label ``labels`` (the votes an image has, in any order) decide, or None while the image waits.

    An adjudicator's decision settles the image once a vote for that label is among ``labels``: an adjudicator
    decides between the labels given, so a decision whose votes are gone (deleted with their annotator) waits for
    a new one. Without a decision, a strict majority once enough votes are in: ``INFANTINO_LABELS_PER_IMAGE``, and
    at least two when one of the votes was sent back as a likely mistake (``suspect``: ``labels_needed``).
    """
    if adjudicated is not None:
        return adjudicated if adjudicated in labels else None
    needed = labels_needed(per_image=settings.INFANTINO_LABELS_PER_IMAGE, suspect=suspect)
    decided = consensus(list(labels), needed=needed)
    return None if decided is None else str(decided)
