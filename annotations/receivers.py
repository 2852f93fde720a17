"""What this room does when a lower room tells it something (connected in ``AnnotationsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from annotations import services


def unlearn_deleted_photos(sender: Any, *, image_ids: list[str], **_: Any) -> int:
    """``predictions.signals.photos_deleting``: the live model forgets them; answers how many labels go with them."""
    return services.photos_unlearn(image_ids=image_ids, why="deleted")


def unlearn_unshared_photos(sender: Any, *, image_ids: list[str], **_: Any) -> None:
    """``predictions.signals.consent_withdrawn``: a photo no longer shared leaves the live model."""
    services.photos_unlearn(image_ids=image_ids, why="consent withdrawn")


def delete_labels_of_person(sender: Any, *, user: AbstractBaseUser, **_: Any) -> int:
    """``predictions.signals.person_data_deleting``: the labels the person gave go too; answers how many."""
    return services.person_labels_delete(user=user)


def queue_consolidation(sender: Any, *, user_id: int, **_: Any) -> None:
    """``modelops.signals.consolidation_requested``: the single writer refits the live head on every label."""
    services.consolidation_queue(user_id=user_id)
