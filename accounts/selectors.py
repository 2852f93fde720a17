"""Reads for accounts: what a person has stored here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from predictions.selectors import predictions_owned


@dataclass(frozen=True)
class MyData:
    predictions: int
    labels: int


def my_data(*, user: Any, session_key: str) -> MyData:
    # Labels through the reverse relation by name: accounts does not need the annotations app's models.
    labels = user.annotations.count() if user.is_authenticated else 0
    return MyData(predictions=predictions_owned(user=user, session_key=session_key).count(), labels=labels)
