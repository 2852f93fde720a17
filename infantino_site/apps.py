"""The site as an app: what the settings name on disk is made as the project starts, never at import."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

# Loaded in every process, so that ``jobs.enqueue`` can hand jobs to Celery wherever the celery runner is on.
from infantino_site import celery  # noqa: F401


class SiteConfig(AppConfig):
    name = "infantino_site"
    verbose_name = "InfantinO site"

    def ready(self) -> None:
        # The embedded profile's SQLite database, MLflow store, writer lock and beat schedule live here.
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        if settings.INFANTINO_SECRET_KEY_FILE is not None:
            settings.SECRET_KEY = kept_secret_key(Path(settings.INFANTINO_SECRET_KEY_FILE))


def kept_secret_key(path: Path) -> str:
    """The key in ``path``, made on the first start (readable by this user alone) and the same ever after."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()
