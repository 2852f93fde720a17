"""The site as an app: what the settings name on disk is made as the project starts, never at import."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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
    """The key in ``path``, made on the first start (readable by this user alone) and the same ever after.

    Processes that start together on a new folder (the web process and a ``manage.py`` command) race to make it: each
    writes a key of its own to a private file and links it in as ``path``, which only the first link does, whole. A
    file created first and written after was read empty by the process that lost, which then served with no key.
    """
    if not path.exists():
        descriptor, written = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
            with contextlib.suppress(FileExistsError):  # another process's key is there: it is the one
                os.link(written, path)
        finally:
            os.unlink(written)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it and start again (a new key signs everyone out)")
    return key
