"""Background jobs of online learning; each calls one service of the single writer."""

from __future__ import annotations

from annotations import learning


def learn(*, annotation_id: int) -> None:
    learning.learn_from_annotation(annotation_id=annotation_id)


def undo(*, version: str, parent: str) -> None:
    learning.undo_version(version=version, parent=parent)


def warm_up() -> None:
    learning.warm_up()


def learn_waiting(*, older_than: float | None = None) -> None:
    learning.requeue_waiting_labels(older_than=older_than)
