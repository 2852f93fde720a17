"""Import a folder of photos as the team's own (shared for labeling and learning), each predicted once.

With --labels-from-folders, each photo is labeled with the name of the folder it is in (one sub-folder per
label: angry, disgust, fear, happy, sad, surprise, neutral), as --annotator or else as the "import" account
(made on first use, with no password: it cannot sign in). Photos stored already are skipped; what is refused
is listed with the reason. Exits non-zero when nothing at all could be imported from a folder that has files,
or when --annotator names no annotator.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.roles import is_annotator
from annotations.imports import ImportResult, images_import, importer_account
from common.api_errors import ServiceUnavailable
from predictions.batch import Outcome, folder_entries, folder_files

SHOWN_REASONS = 20  # refused files listed one by one; past that, counted by reason


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="the folder of photos (sub-folders are read too)")
        parser.add_argument(
            "--labels-from-folders", action="store_true", help="label each photo with its folder's name"
        )
        parser.add_argument("--annotator", help='the annotator the labels are given as (default: the "import" account)')

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        annotator = _annotator(options["annotator"])
        total = len(folder_files(folder))
        started = time.monotonic()
        with tqdm(total=total, desc="import", unit="photo", file=sys.stderr, dynamic_ncols=True) as bar:

            def advance(outcome: Outcome) -> None:
                bar.set_postfix_str("refused" if outcome.refused else "duplicate" if outcome.duplicate else "ok")
                bar.update()

            try:
                result = images_import(
                    entries=folder_entries(folder),
                    annotator=annotator,
                    labels_from_folders=options["labels_from_folders"],
                    progress=advance,
                )
            except ServiceUnavailable as error:
                raise CommandError(f"{error} Photos imported so far are kept; run again to go on.") from None
        self._summary(result, seconds=time.monotonic() - started)
        if total and not result.imported and not result.duplicates:
            raise CommandError(f"nothing could be imported from {folder}")

    def _summary(self, result: ImportResult, *, seconds: float) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {len(result.imported)} photos ({result.labeled} labeled), "
                f"{len(result.duplicates)} duplicates skipped, {len(result.refused)} refused, in {seconds:.1f} s"
            )
        )
        for duplicate in result.duplicates[:SHOWN_REASONS]:
            earlier = f"the same photo as {duplicate.same_as}" if duplicate.same_as else "stored before"
            self.stdout.write(f"  duplicate {duplicate.name}: {earlier}")
        for name, reason in result.refused[:SHOWN_REASONS]:
            self.stdout.write(f"  refused {name}: {reason}")
        if len(result.refused) > SHOWN_REASONS:
            for reason, count in Counter(reason for _, reason in result.refused).most_common():
                self.stdout.write(f"  {count} × {reason}")


def _annotator(name: str | None) -> Any:
    if name is None:
        return importer_account()
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        raise CommandError(f"no user is named {name!r}")
    if not is_annotator(user):
        raise CommandError(f"{name!r} is not an annotator: add them to the annotator group first")
    return user
