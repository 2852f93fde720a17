"""The seven expressions, in FER2013 code order (index = FER2013 ``emotion`` value)."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(LABELS)
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
UNSURE = "unsure"  # what a prediction says instead of an expression when its uncertainty is too high


def label_index(name: str) -> int:
    """Index of ``name``; raises ``ValueError`` naming the allowed labels."""
    try:
        return LABEL_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown label {name!r}; expected one of {', '.join(LABELS)}") from None
