"""Evaluate the live model (or a given version) on an image folder or a FER2013 CSV."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions import ml
from predictions.management.progress import StageBars


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("data", type=Path, help="image folder (one sub-folder per label) or FER2013 CSV")
        parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else on stdout")
        parser.add_argument("--model-version", help="model version (default: the live one)")
        parser.add_argument("--limit", type=int, help="evaluate at most this many images")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")

    def handle(self, *args: Any, **options: Any) -> None:
        import torch

        from mlcore.datasets import load_labeled
        from mlcore.evaluation import evaluate_model, evaluation_json
        from mlcore.registry import NoModel

        # Everything but the result goes to stderr, so tools can parse stdout as one JSON document.
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
        path: Path = options["data"]
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        torch.set_num_threads(options["threads"])
        try:
            model = ml.registry().load(options["model_version"])
        except NoModel as error:
            raise CommandError(str(error)) from None
        try:
            data = load_labeled(path, limit=options["limit"])
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        bars = StageBars(sys.stderr)
        try:
            evaluation = evaluate_model(model, data, progress=bars)
        finally:
            bars.close()
        document = evaluation_json(evaluation, model.version)
        if options["json"]:
            self.stdout.write(json.dumps(document))
            return
        self.stdout.write(f"model version {model.version} on {document['n']} images from {path}")
        self.stdout.write(
            f"accuracy {evaluation.accuracy:.3f}  macro-F1 {evaluation.macro_f1:.3f}  ECE {evaluation.ece:.3f}"
        )
        for label, recall in evaluation.per_class.items():
            self.stdout.write(f"  {label:9s} recall {recall:.3f}")
