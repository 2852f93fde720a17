"""Evaluate the live model (or a given version) on an image folder or a FER2013 CSV."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.management.progress import StageBars
from predictions.ml import ModelUnavailable, UnknownVersion, backend
from predictions.ml.live import use_threads


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("data", type=Path, help="image folder (one sub-folder per label) or FER2013 CSV")
        parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else on stdout")
        parser.add_argument("--model-version", help="model version (default: the live one)")
        parser.add_argument("--limit", type=int, help="evaluate at most this many images")
        parser.add_argument("--threads", type=int, default=2, help="CPU threads of every runtime (default 2)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Everything but the result goes to stderr, so tools can parse stdout as one JSON document.
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
        path: Path = options["data"]
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        use_threads(options["threads"])
        bars = StageBars(sys.stderr)
        try:
            document = backend().evaluate(path, version=options["model_version"], limit=options["limit"], progress=bars)
        except (UnknownVersion, ModelUnavailable, ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        finally:
            bars.close()
        if options["json"]:
            self.stdout.write(json.dumps(document))
            return
        self.stdout.write(f"model version {document['model_version']} on {document['n']} images from {path}")
        self.stdout.write(
            f"accuracy {document['accuracy']:.3f}  macro-F1 {document['macro_f1']:.3f}  ECE {document['ece']:.3f}"
        )
        for label, recall in document["per_class"].items():
            # A label absent from the data has no recall: null in the JSON, nan here as always.
            self.stdout.write(f"  {label:9s} recall {float('nan') if recall is None else recall:.3f}")
