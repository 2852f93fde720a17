"""Background jobs of online learning; each calls one service of the single writer."""

from __future__ import annotations

from annotations.learning import consolidate as consolidate_module
from annotations.learning import online, sweep, warmup
from annotations.learning import undo as undo_module
from annotations.learning import unlearn as unlearn_module


def learn(*, annotation_id: int) -> None:
    online.learn_from_annotation(annotation_id=annotation_id)


def undo(*, version: str, parent: str) -> None:
    undo_module.undo_version(version=version, parent=parent)


def unlearn(*, reason: str) -> None:
    unlearn_module.unlearn(reason=reason)


def consolidate(*, user_id: int | None = None, when_due: bool = False) -> None:
    consolidate_module.consolidate(user_id=user_id, when_due=when_due)


def warm_up() -> None:
    warmup.warm_up()


def learn_waiting(*, older_than: float | None = None) -> None:
    sweep.requeue_waiting_labels(older_than=older_than)
