from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

from common import jobs

RETENTION_EVERY_SECONDS = 3600.0  # retention counts in days: an hour late is on time


def _claim_uploads(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """On sign-in, what this browser uploaded anonymously moves to the account."""
    # Imported here: services reads models, which cannot be imported while the apps are loading.
    from accounts.sessions import viewer_session_key
    from predictions.services import uploads_claim

    if request is not None and hasattr(request, "session"):
        uploads_claim(user=user, session_key=viewer_session_key(request))


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self) -> None:
        from predictions import tasks

        user_logged_in.connect(_claim_uploads, dispatch_uid="predictions.claim_uploads")
        jobs.register(tasks.delete_expired, every=RETENTION_EVERY_SECONDS)  # Celery's default queue
