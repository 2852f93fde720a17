"""Full training: FER2013 source stage, infant fine-tune and adaptation, head, calibration; registered in MLflow."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelops.management.progress import StageBars
from modelops.models import ModelChange
from modelops.services import live_version_move
from predictions.ml import FACE_DETECTORS, TrainingCancelled, TrainingRun, backend, data_folders, image_files
from predictions.ml.live import use_threads
from predictions.ml.training import RECIPE, latest_run

SUMMARY = ("test_infant_accuracy", "test_infant_macro_f1", "infant_accuracy", "fer_accuracy")


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fer", type=Path, help="FER2013 CSV (default: <data>/fer2013/*.csv*)")
        parser.add_argument("--images", type=Path, help="infant image folder (default: <data>/infant)")
        parser.add_argument(
            "--data",
            type=Path,
            help="data folder holding fer2013/ and infant/ (default: INFANTINO_DATA_DIR; ../shared/data when found)",
        )
        # Defaults: the default recipe (``TrainConfig``), as cross-validated in bench/ABLATION.md.
        parser.add_argument(
            "--epochs", type=int, default=RECIPE.infant_epochs, help="infant fine-tune epochs (0: no fine-tune)"
        )
        parser.add_argument(
            "--fer-steps", type=int, default=RECIPE.fer_steps, help="FER2013 training steps (0: skip the stage)"
        )
        parser.add_argument("--image-size", type=int, default=RECIPE.image_size)
        parser.add_argument("--face-detector", default=RECIPE.face_detector, choices=FACE_DETECTORS)
        parser.add_argument("--no-imagenet", action="store_true", help="start the backbone from random weights")
        parser.add_argument("--no-adapt-bn", action="store_true", help="keep the batch-norm statistics as trained")
        parser.add_argument(
            "--coverage",
            type=float,
            default=0.85,
            help="share of validation photos answered; the rest set the 'unsure' threshold",
        )
        parser.add_argument("--unlabeled", type=Path, help="photos nobody labeled (any depth), for --pseudo-confidence")
        parser.add_argument(
            "--pseudo-confidence",
            type=float,
            default=RECIPE.pseudo_confidence,
            help="the head also learns each --unlabeled photo it is at least this sure of, as that answer (0: off)",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threads", type=int, default=2, help="CPU threads of every runtime (default 2)")
        parser.add_argument("--run-name", help="checkpoint folder name under var/training (default: a timestamp)")
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue from the last checkpoint of --run-name (default: the latest run)",
        )
        parser.add_argument(
            "--fer-checkpoint",
            type=Path,
            help="skip the FER2013 stage: start from another run's after_fer.pt (same size and seed)",
        )
        parser.add_argument("--no-promote", action="store_true", help="register the version without making it live")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        use_threads(options["threads"])
        fer, images = _data_paths(options)
        if images is None:
            raise CommandError("no infant images: give --images DIR (one sub-folder per label) or --data")
        options["face_detector"] = self._face_detector(options["face_detector"])
        work_dir = _work_dir(options)
        self.stderr.write(f"training into {work_dir} (FER2013: {fer or 'none'}, infant photos: {images})")
        bars = StageBars(sys.stderr)
        run = TrainingRun(
            work_dir=work_dir,
            cache_dir=Path(settings.VAR_DIR) / "cache" / "faces",
            fer_csv=fer,
            image_dir=images,
            options=_config(options, has_fer=fer is not None),
            progress=bars,
        )
        try:
            trained = backend().train(run)
        except TrainingCancelled as error:
            raise CommandError(f"{error}; continue with --resume --run-name {work_dir.name}") from None
        finally:
            bars.close()
        promote = not options["no_promote"]
        if promote:
            live_version_move(version=trained.version, action=ModelChange.Action.TRAIN, by="train")
        summary = {k: round(v, 4) for k, v in trained.metrics.items() if k.startswith(SUMMARY)}
        seconds = trained.metrics.get("train_seconds", trained.seconds)  # counts every resumed part of the run
        self.stdout.write(
            self.style.SUCCESS(
                f"Model version {trained.version} {'is live' if promote else 'registered'} "
                f"({seconds / 60:.1f} min): {json.dumps(summary)}"
            )
        )

    def _face_detector(self, detector: str) -> str:
        """MTCNN needs its weights; when they cannot be had (offline, no pip), training uses Haar, loudly."""
        if not detector.startswith("mtcnn"):
            return detector
        try:
            backend().face_detector_ready(detector)
        except Exception as error:  # offline, no pip, a bad download: all mean the same loud fallback
            self.stderr.write(f"could not fetch MTCNN weights ({error}); using the Haar cascade instead")
            return "haar"
        return detector


def _config(options: dict[str, Any], *, has_fer: bool) -> dict[str, Any]:
    """The training engine's settings this command sets, by their ``TrainConfig`` field names."""
    return {
        "resume": options["resume"],
        "seed": options["seed"],
        "imagenet": not options["no_imagenet"],
        "image_size": options["image_size"],
        "face_detector": options["face_detector"],
        "fer_steps": options["fer_steps"] if has_fer else 0,
        "infant_epochs": options["epochs"],
        "init_checkpoint": options["fer_checkpoint"],
        "adapt_bn": not options["no_adapt_bn"],
        "coverage": options["coverage"],
        "unlabeled": _unlabeled(options),
        "pseudo_confidence": options["pseudo_confidence"],
    }


def _unlabeled(options: dict[str, Any]) -> tuple[str, ...]:
    folder, confidence = options["unlabeled"], options["pseudo_confidence"]
    if not 0 <= confidence < 1:
        raise CommandError(f"--pseudo-confidence is a probability below 1, not {confidence}")
    if folder is None:
        if confidence > 0:
            raise CommandError("--pseudo-confidence needs --unlabeled DIR: the photos to pseudo-label")
        return ()
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    return tuple(str(path) for path in image_files(folder))


def _data_paths(options: dict[str, Any]) -> tuple[Path | None, Path | None]:
    root = options["data"] or (Path(settings.INFANTINO_DATA_DIR) if settings.INFANTINO_DATA_DIR else None)
    found = data_folders(root)
    fer, images = options["fer"] or found.fer_csv, options["images"] or found.infant_dir
    for path in (fer, images):
        if path is not None and not path.exists():
            raise CommandError(f"{path} does not exist")
    return fer, images


def _work_dir(options: dict[str, Any]) -> Path:
    root = Path(settings.VAR_DIR) / "training"
    if options["run_name"]:
        return root / options["run_name"]
    if options["resume"]:
        found = latest_run(root)
        if found is None:
            raise CommandError(f"nothing to resume under {root}")
        return found
    return root / time.strftime("train-%Y%m%d-%H%M%S")
