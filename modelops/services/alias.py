"""The one place the live alias moves: checked load → alias → audit row → broadcast, whoever asks.

Bootstrap, full trainings, retrains, online labels, undo, promote and roll back all call
``live_version_move``, so the audit log (``ModelChange``) has a row for every version that went live
and a rollback reads the previous version from it instead of guessing from registry parents.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from modelops.events import broadcast_model_updated
from modelops.models import ModelChange
from predictions.ml import ModelRefused, UnknownVersion, backend

logger = logging.getLogger(__name__)


class ModelChangeError(ValueError):
    """The requested change of the live version cannot be made; the message says why."""


def live_version_move(
    *,
    version: str,
    action: ModelChange.Action,
    user: AbstractBaseUser | None = None,
    by: str = "",
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> ModelChange:
    """Make ``version`` live in every process; ``by`` names the mover on the MLflow version when no user did."""
    model = backend()
    previous = model.live_version() or ""
    try:
        model.serve(version)  # loaded and checked before the alias moves: a refused version never goes live
    except UnknownVersion:
        raise ModelChangeError(f"There is no model version {version}.") from None
    except ModelRefused as error:
        raise ModelChangeError(str(error)) from None
    model.set_live(version, by=by or (user.get_username() if user is not None else action))
    change = ModelChange.objects.create(
        action=action, version=version, previous_version=previous, user=user, reason=reason.strip()[:2000]
    )
    broadcast_model_updated(version, reason=action, **(extra or {}))
    logger.info("%s: version %s is live (was %s)", action, version, previous or "none")
    return change


def move_record(*, version: str, previous: str, action: ModelChange.Action, reason: str = "") -> ModelChange:
    """Write the audit row of a move made by a job that died between the alias and its row (found on re-run)."""
    change = ModelChange.objects.create(action=action, version=version, previous_version=previous, reason=reason)
    live = backend().live_version()
    if live is not None:
        broadcast_model_updated(live, reason=action)  # a process that missed the move's broadcast follows now
    logger.info("%s: recorded the move to version %s made by an interrupted job", action, version)
    return change


def model_promote(
    *,
    version: str,
    user: AbstractBaseUser | None,
    reason: str = "",
    action: ModelChange.Action = ModelChange.Action.PROMOTE,
) -> ModelChange:
    """Make an existing version live by hand (or by rollback); refused when it is live already."""
    model = backend()
    try:
        model.version_info(version)
    except UnknownVersion:
        raise ModelChangeError(f"There is no model version {version}.") from None
    if model.live_version() == version:
        raise ModelChangeError(f"Version {version} is already live.")
    return live_version_move(version=version, action=action, user=user, reason=reason)


def model_rollback(*, user: AbstractBaseUser | None, reason: str = "") -> ModelChange:
    """Go back to the version that was live before the current one, as the audit log recorded it."""
    live = backend().live_version()
    if live is None:
        raise ModelChangeError("No model is live, so there is nothing to roll back.")
    last_change = ModelChange.objects.filter(version=live).exclude(previous_version="").first()
    if last_change is None:
        raise ModelChangeError(f"Version {live} has no earlier version to roll back to.")
    return model_promote(
        version=last_change.previous_version, user=user, reason=reason, action=ModelChange.Action.ROLLBACK
    )
