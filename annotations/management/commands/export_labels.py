"""Export the labels: one row per shared photo that was labeled or marked unusable, as CSV or JSON lines.

CSV columns: id (the prediction id the API uses), created, one "label:<username>" column per annotator (empty
where that person gave no label), labels (how many), consensus (the adjudicator's decision, else the strict
majority once INFANTINO_LABELS_PER_IMAGE labels are in; empty without one), adjudicated (true/false), agreement
(share of annotator pairs that agree; empty below two labels), unusable (no_face, not_infant or empty),
model_version and predicted (the model's answer when the photo came in), p_<label> for the seven probabilities.
In pandas: df = pd.read_csv(FILE); votes = df.filter(like="label:"). JSON lines carry the same fields, with
"labels" and "probabilities" as objects.

With --images DIR the photos themselves are copied out as DIR/<consensus>/<id>.jpg, the layout
"python manage.py train --images DIR" reads; photos without a consensus or marked unusable are left out and
counted.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.exports import FORMATS, export_lines, export_rows, images_export


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or jsonl")
        parser.add_argument("--output", type=Path, help="write the rows to this file (default: standard output)")
        parser.add_argument("--images", type=Path, help="copy the photos to DIR/<consensus label>/<id>.jpg")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path | None = options["output"]
        images: Path | None = options["images"]
        if images is not None and images.exists() and any(images.iterdir()):
            raise CommandError(f"{images} is not empty: give a new or empty folder for the photos")
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        opened = output.open("w", encoding="utf-8", newline="") if output else contextlib.nullcontext(sys.stdout)
        with opened as file:
            for line in export_lines(options["format"]):
                file.write(line)
                rows += 1
        rows -= 1 if options["format"] == "csv" else 0  # the header
        self.stderr.write(f"exported {rows} rows{f' to {output}' if output else ''}")
        if images is not None:
            images.mkdir(parents=True, exist_ok=True)
            done = images_export(rows=export_rows(), directory=images)
            self.stderr.write(
                self.style.SUCCESS(
                    f"copied {done.copied} photos to {images} (one folder per consensus label); left out "
                    f"{done.without_consensus} without a consensus and {done.unusable} marked unusable"
                )
            )
