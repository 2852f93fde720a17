"""Retrains that start by themselves: the full model on a first run, then again as labels accumulate.

While only the starter is live, a starting server trains the full model, once. Then every
``INFANTINO_RETRAIN_EVERY`` images labeled to consensus start another full retrain in the background: online
updates and consolidations teach only the head, on an extractor that never saw the labels. On the learning curve
(``bench/LEARNING_CURVE.md``) 262 labels gained +8.1 points on photos nobody labeled with a retrain every 100, and
+2.7 without. Like any retrain, it goes live only past the retrain guard (``mlcore.retrain_guard``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connections

from modelops.models import TrainingJob
from modelops.selectors import labeled_since_retrain
from modelops.services.retrain import RetrainRefused, retrain_resume_orphans, retrain_start, training_sources
from predictions.ml import ModelUnavailable, backend
from predictions.selectors import version_is_starter

logger = logging.getLogger(__name__)

AUTOTRAIN_OPTIONS: dict[str, Any] = {"preset": "full", "autotrain": True}
AFTER_LABELS_OPTIONS: dict[str, Any] = {"preset": "full", TrainingJob.AFTER_LABELS_OPTION: True}


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


def retrain_when_due() -> TrainingJob | None:
    """Queue a full retrain once ``INFANTINO_RETRAIN_EVERY`` more images are labeled than when the last retrain
    was queued (any retrain: one started from the dashboard counts too); None when not due, or while another
    retrain is queued or running (a later label tries again)."""
    every = settings.INFANTINO_RETRAIN_EVERY
    if every <= 0:
        return None
    since = labeled_since_retrain()  # a running retrain recorded its own count: only labels since it started
    if since < every:
        return None
    try:
        job = retrain_start(user=None, options=AFTER_LABELS_OPTIONS)
    except RetrainRefused:
        return None
    logger.info("%d images labeled since the last retrain: retraining (#%s)", since, job.pk)
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
