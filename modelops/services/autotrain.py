"""The first run serves the real model: while only the starter is live, a starting server trains the full one, once."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connections

from modelops.models import TrainingJob
from modelops.services.retrain import RetrainRefused, retrain_resume_orphans, retrain_start, training_sources
from predictions.ml import ModelUnavailable, backend
from predictions.selectors import version_is_starter

logger = logging.getLogger(__name__)

AUTOTRAIN_OPTIONS: dict[str, Any] = {"preset": "full", "autotrain": True}


def autotrain_ensure() -> TrainingJob | None:
    """Resume a retrain a restart cut short, or start the full training once while the starter model is live."""
    if not settings.INFANTINO_AUTOTRAIN:
        return None
    resumed = retrain_resume_orphans()
    if resumed:
        return resumed[0]
    if TrainingJob.objects.filter(options__autotrain=True).exists():
        return None  # once: never again after it finished, whatever the outcome (an admin may have cancelled it)
    if not _starter_is_live():
        return None
    if not training_sources().has_infant_images:
        logger.info("only the starter model is live, but there are no infant images to train the full model on")
        return None
    try:
        job = retrain_start(user=None, options=AUTOTRAIN_OPTIONS)
    except RetrainRefused:
        return None  # a retrain is queued or running already: that one brings the real model
    logger.info("only the starter model is live: training the full model in the background (retrain #%s)", job.pk)
    return job


def autotrain_in_background() -> threading.Thread | None:
    """Call ``autotrain_ensure`` in a thread as a server starts: it never delays start-up, and a failure is logged."""
    if not settings.INFANTINO_AUTOTRAIN:
        return None
    thread = threading.Thread(target=_autotrain_logged, name="infantino-autotrain", daemon=True)
    thread.start()
    return thread


def _autotrain_logged() -> None:
    try:
        autotrain_ensure()
    except Exception:
        logger.exception("could not start or resume the full training at start-up")
    finally:
        connections.close_all()  # this thread's own: it ends here


def _starter_is_live() -> bool:
    """No version is live, or the live one is the starter or was grown from it by labels."""
    try:
        live = backend().live_version()
    except ModelUnavailable as error:
        logger.warning("cannot tell which model is live, so no full training starts now: %s", error)
        return False
    return live is None or version_is_starter(live)
