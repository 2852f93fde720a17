"""Writes of model operations: the live alias, retrains (``retrain``), the first full one (``autotrain``),
consolidations asked for by staff (``consolidation``)."""

from modelops.services.alias import ModelChangeError, live_version_move, model_promote, model_rollback, move_record
from modelops.services.autotrain import autotrain_ensure, autotrain_in_background
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
]
