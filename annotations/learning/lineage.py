"""Which versions the live line holds, and what an interrupted run already made from a label.

A job may run twice (its worker died, a service was down): a label recorded as learned is skipped; a
version registered but never made live stays an unused version (the alias still names the last
committed one); a version made live whose labels were not recorded yet is recorded, not learned again.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotations.models import Annotation
from predictions import ml


@dataclass(frozen=True)
class Made:
    """How an online version was made, read back from its registry record."""

    version: str
    parent: str
    label: str
    annotation_ids: frozenset[int]
    guard: str


def made(version: str) -> Made:
    info = ml.backend().version_info(version)
    return Made(
        version=version,
        parent=info.parent or "",
        label=info.label,
        annotation_ids=frozenset(info.annotation_ids),
        guard=info.guard,
    )


def made_before(annotation: Annotation, *, live: str) -> str | None:
    """The version in the live line that an earlier run of this job made from ``annotation``, if any."""
    noted = annotation.model_version
    if not noted or not noted.isdigit():
        return None
    if noted == live:
        return noted
    # Rare (a crash, then other labels learned first): walk back from live; parents are older versions.
    return noted if noted in live_line(live, down_to=noted) else None


def live_line(live: str | None, *, down_to: str) -> list[str]:
    """The versions from ``live`` back through their recorded parents (newest first), down to ``down_to``."""
    line: list[str] = []
    current = live
    # A parent is always an older version: below ``down_to`` it cannot be found any more.
    while current and current not in line and int(current) >= int(down_to):
        line.append(current)
        if current == down_to:
            break
        current = ml.backend().version_info(current).parent
    return line
