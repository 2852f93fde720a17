"""Writes of model operations: the live alias, retrains (``retrain``), the ones that start by themselves (the
first full one and one every N labels: ``autotrain``), consolidations asked for by staff (``consolidation``)."""

from modelops.services.alias import ModelChangeError, live_version_move, model_promote, model_rollback, move_record
from modelops.services.autotrain import autotrain_ensure, autotrain_in_background, retrain_when_due
from modelops.services.consolidation import consolidation_start

__all__ = [
    "ModelChangeError",
    "autotrain_ensure",
    "autotrain_in_background",
    "consolidation_start",
    "live_version_move",
    "model_promote",
    "model_rollback",
    "move_record",
    "retrain_when_due",
]
