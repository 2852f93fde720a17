"""Background jobs of the videos app; each calls one service."""

from __future__ import annotations

from videos import services


def analyse(*, video_id: str) -> None:
    """A clip's expression timeline, frame by frame (its own lane or queue: minutes of work that yields to pages)."""
    services.video_analyse(video_id=video_id)


def delete_expired() -> None:
    """Retention: clips shared with nobody go ``INFANTINO_RETENTION_DAYS`` after their upload."""
    services.videos_expired_delete()
