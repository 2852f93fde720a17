"""Writes of model operations: the live alias (``alias``) and full retrains (``retrain``)."""

from modelops.services.alias import ModelChangeError, live_version_move, model_promote, model_rollback, move_record

__all__ = ["ModelChangeError", "live_version_move", "model_promote", "model_rollback", "move_record"]
