"""Background jobs of the predictions app; each calls one service."""

from __future__ import annotations

from predictions import services


def delete_expired() -> None:
    """Retention: photos shared with nobody and never labeled go ``INFANTINO_RETENTION_DAYS`` after their upload."""
    services.predictions_expired_delete()
