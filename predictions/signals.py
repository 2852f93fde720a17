"""Events of the predictions room for the rooms above it: calls go down, events go up.

``predictions`` never names an upper room's task, model or field; a room that keeps something derived from photos
(``annotations``: labels and what the live model learned from them) subscribes in its ``AppConfig.ready``.
Each is sent inside the caller's transaction, before the rows change, so a receiver still sees them and defers its
own work with ``transaction.on_commit``.
"""

from __future__ import annotations

from django.dispatch import Signal

# Photos are being deleted. Keyword argument: ``image_ids`` (their ids, as strings). Each receiver forgets what it
# learned from them and answers how many labels its room holds on them (an int): they go with the photos.
photos_deleting = Signal()

# A parent stopped sharing a photo: nobody may learn from it any more. Keyword argument: ``image_ids``.
consent_withdrawn = Signal()

# A person's data is being deleted ("my data", account deletion). Keyword argument: ``user``. Each receiver deletes
# what that person gave its room and answers how many labels that was (an int).
person_data_deleting = Signal()


def labels_counted(answers: list[tuple[object, object]]) -> int:
    """The labels the receivers said they hold or deleted, added up."""
    return sum(answer for _, answer in answers if isinstance(answer, int))
