"""Writes of model operations: the live alias, retrains (``retrain``), the first full one (``autotrain``)."""

from modelops.services.alias import ModelChangeError, live_version_move, model_promote, model_rollback, move_record
from modelops.services.autotrain import autotrain_ensure, autotrain_in_background

__all__ = [
    "ModelChangeError",
    "autotrain_ensure",
    "autotrain_in_background",
    "live_version_move",
    "model_promote",
    "model_rollback",
    "move_record",
]
