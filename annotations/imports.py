"""A team's own photos in bulk: several files, a .zip or a folder, shared for learning and labeled as they come in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.services import annotator_grant
from annotations.services import annotation_create, check_label
from predictions.batch import Batch, Entry, Outcome
from predictions.models import Expression
from predictions.selectors import predictions_shared


@dataclass(frozen=True)
class Imported:
    name: str
    prediction_id: str
    predicted: str  # the model's guess
    label: str  # the label given with it; "" when imported unlabeled


@dataclass(frozen=True)
class Duplicate:
    name: str
    prediction_id: str  # the photo already stored (shared earlier, or earlier in this import)
    same_as: str = ""  # the file earlier in this import it repeats; "" when it was stored before


@dataclass(frozen=True)
class ImportResult:
    imported: tuple[Imported, ...]
    duplicates: tuple[Duplicate, ...]
    refused: tuple[tuple[str, str], ...]  # (name, why)
    labeled: int


IMPORTER = "import"  # the account a folder import labels as when no annotator is named


def importer_account() -> AbstractBaseUser:
    """The "import" annotator, made on first use with no password: it labels, it can never sign in."""
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=IMPORTER)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            annotator_grant(user=user)
    return user


def unknown_folder(folder: str) -> str:
    where = f"The folder {folder!r} is not a label" if folder else "The file is in no label folder"
    return f"{where}: the folders are named {', '.join(Expression.values)}."


def images_import(
    *,
    entries: Iterable[Entry],
    annotator: AbstractBaseUser,
    label: str = "",
    labels_from_folders: bool = False,
    progress: Callable[[Outcome], None] | None = None,
) -> ImportResult:
    """Predict and store each photo as the team's (shared), skip exact duplicates, label each as ``annotator``.

    The label is ``label`` for all, or with ``labels_from_folders`` the name of the folder a file is in. A model
    or store outage (``ServiceUnavailable``) stops the import; what was imported stays, and running it again
    skips those as duplicates.
    """
    if label:
        check_label(label)
    batch = Batch(stored=predictions_shared(), user=annotator, consent=True)
    imported: list[Imported] = []
    duplicates: list[Duplicate] = []
    refused: list[tuple[str, str]] = []

    def refuse(entry: Entry) -> str:
        return unknown_folder(entry.folder) if labels_from_folders and entry.folder not in Expression.values else ""

    for entry, outcome in batch.add_all(entries, refuse=refuse):  # predicted in batches, decoded ahead
        given = entry.folder if labels_from_folders else label
        if outcome.refused or outcome.prediction is None:
            refused.append((outcome.name, outcome.refused))
        elif outcome.duplicate:
            duplicates.append(Duplicate(outcome.name, str(outcome.prediction.pk), outcome.same_as))
        else:
            prediction = outcome.prediction
            if given:
                annotation_create(image_id=prediction.pk, label=given, annotator=annotator)
            imported.append(Imported(outcome.name, str(prediction.pk), prediction.label, given))
        if progress is not None:
            progress(outcome)
    return ImportResult(
        imported=tuple(imported),
        duplicates=tuple(duplicates),
        refused=tuple(refused),
        labeled=sum(1 for item in imported if item.label),
    )
