"""What this room does when a lower room tells it something (connected in ``VideosConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from videos import services


def delete_clips_of_person(sender: Any, *, user: AbstractBaseUser, **_: Any) -> None:
    """``predictions.signals.person_data_deleting``: the person's clips go too (no labels: it answers nothing)."""
    services.videos_of_person_delete(user=user)
