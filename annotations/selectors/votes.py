"""The votes on each image and the label they decide: the base the queue, progress, agreement and statistics read."""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from accounts.roles import is_admin
from annotations.agreement import consensus
from annotations.consensus import decided_label
from annotations.models import Adjudication, Annotation

Votes = dict[object, list[dict[str, str]]]  # image id → [{"label", "annotator"}], oldest first


def annotation_get_visible(*, annotation_id: int, user: AbstractBaseUser) -> Annotation | None:
    """None for someone else's label (unless admin), exactly as for one that does not exist."""
    annotations = Annotation.objects.all() if is_admin(user) else Annotation.objects.filter(annotator_id=user.pk)
    return annotations.filter(pk=annotation_id).first()


def votes_by_image(image_ids: list[object] | None = None) -> Votes:
    """Every label per image (of ``image_ids``, or of all images), with who gave it."""
    annotations = Annotation.objects.all() if image_ids is None else Annotation.objects.filter(image_id__in=image_ids)
    found: Votes = defaultdict(list)
    for image_id, label, username in annotations.values_list("image_id", "label", "annotator__username"):
        found[image_id].append({"label": label, "annotator": username})
    return found


def adjudicated_labels(image_ids: list[object] | None = None) -> dict[object, str]:
    """The label an adjudicator decided, per image that has one."""
    decisions = Adjudication.objects.all() if image_ids is None else Adjudication.objects.filter(image_id__in=image_ids)
    return dict(decisions.values_list("image_id", "label"))


def suspect_images(image_ids: list[object] | None = None) -> set[object]:
    """The images with a vote sent back as a likely mistake: their consensus waits for a second vote."""
    suspects = Annotation.objects.filter(suspect_since__isnull=False)
    if image_ids is not None:
        suspects = suspects.filter(image_id__in=image_ids)
    return set(suspects.values_list("image_id", flat=True))


def settled_labels() -> dict[object, str]:
    """The label an image was learned with (held back or not), per image online learning settled."""
    return dict(Annotation.objects.filter(status__in=Annotation.COUNTED).values_list("image_id", "label"))


def majority(labels: list[dict[str, str]]) -> str | None:
    """The label a strict majority gave once enough people labeled (``INFANTINO_LABELS_PER_IMAGE``), shown to an
    adjudicator beside the votes; what decided the image is ``image_consensus``."""
    return consensus([vote["label"] for vote in labels], needed=settings.INFANTINO_LABELS_PER_IMAGE)


def image_consensus(labels: list[dict[str, str]], *, adjudicated: str | None, suspect: bool) -> str | None:
    """The label these votes decide, by the one rule (``annotations.consensus.decided_label``)."""
    return decided_label([vote["label"] for vote in labels], adjudicated=adjudicated, suspect=suspect)


def decided_labels(image_ids: list[object] | None = None) -> dict[object, str]:
    """The label that decided each image (of ``image_ids``, or of all) that has one, by the one rule."""
    votes = votes_by_image(image_ids)
    decisions = adjudicated_labels(image_ids)
    suspects = suspect_images(image_ids)
    found = {}
    for image_id in set(votes) | set(decisions):
        label = image_consensus(
            votes.get(image_id, []), adjudicated=decisions.get(image_id), suspect=image_id in suspects
        )
        if label is not None:
            found[image_id] = label
    return found
