"""What a training run is asked to do, what it returns, and where it keeps its files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlcore.calibration import Calibration
from mlcore.extractor import ExtractorConfig

CHECKPOINT = "checkpoint.pt"
AFTER_FER = "after_fer.pt"
NORM = ExtractorConfig()  # the extractor's normalisation (mean = std = 0.5), shared by every stage
RUN_FILE = "run.json"


class TrainingCancelled(RuntimeError):
    """``should_stop`` asked to stop; the last checkpoint is kept for ``resume``."""


@dataclass(frozen=True)
class TrainConfig:
    """The defaults are the default recipe; each lever's cross-validated effect is in ``bench/ABLATION.md``."""

    fer_csv: Path | None = None
    image_dir: Path | None = None
    work_dir: Path = Path("var/training/default")
    cache_dir: Path | None = None  # face crops and hashes, keyed by file content and detector
    resume: bool = False
    seed: int = 0
    threads: int | None = None  # torch threads of the training thread (None: leave them as they are)
    # extractor
    arch: str = "tf_efficientnet_lite0"
    imagenet: bool = True
    image_size: int = 128
    face_detector: str = "mtcnn"
    face_margin: float = 0.25
    tta_flip: bool = True  # the served extractor averages each face's embedding with its mirror image's
    tta_zoom: bool = False  # ... and with its zoomed centre's (``ExtractorConfig.tta_zoom``)
    # source stage (FER2013); 0 steps skips it
    fer_steps: int = 300
    fer_batch: int = 64
    fer_lr: float = 1e-3
    fer_limit: int | None = None
    fer_val_size: int = 1500
    fer_replay_size: int = 3000
    # target stage (infant photos); 0 epochs skips the fine-tune
    infant_epochs: int = 12
    infant_batch: int = 32
    infant_lr: float = 5e-4
    fer_mix: float = 0.25  # FER rows added to each infant batch, as a share of it: keeps the source skill
    adapt_bn: bool = True  # re-estimate every batch-norm statistic on infant photos (AdaBN) before the fine-tune
    mixup: float = 0.4  # Beta(a, a) mixup of the infant rows of each batch; 0 is off
    average_epochs: int = 0  # serve the mean of the weights after each of the last N infant epochs (SWA); 0 is off
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    # These photos (``label/file`` under image_dir) are the held-out ones, and val_fraction is then a share of the
    # rest; None: the seeded split holds out test_fraction. Cross-validation names each fold's photos here.
    test_names: tuple[str, ...] | None = None
    # Semi-supervised head (off by default): photos nobody labeled (paths), and the calibrated confidence at which
    # the head's answer for one becomes its label for a refit of the head; 0 is off. A photo named here is never
    # learned with its folder's label, even under image_dir: cross-validation withholds a fold's labels this way.
    unlabeled: tuple[str, ...] = ()
    pseudo_confidence: float = 0.0
    # head and calibration
    head_epochs: int = 60
    coverage: float = 0.85
    final_fit: bool = True  # after scoring the recipe, the served head also learns the held-out photos
    checkpoint_every: int = 50  # FER steps between checkpoints
    init_checkpoint: Path | None = None  # start from another run's post-FER checkpoint (ablations share it)
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def tiny(cls, *, fer_csv: Path | None, image_dir: Path, work_dir: Path, **overrides: Any) -> TrainConfig:
        """Seconds-long settings for tests: 32 px, random weights, no face detector."""
        settings: dict[str, Any] = dict(
            fer_csv=fer_csv,
            image_dir=image_dir,
            work_dir=work_dir,
            imagenet=False,
            image_size=32,
            face_detector="none",
            fer_steps=2,
            fer_batch=8,
            fer_val_size=14,
            fer_replay_size=20,
            infant_epochs=1,
            infant_batch=8,
            head_epochs=2,
            checkpoint_every=1,
            val_fraction=0.25,
            test_fraction=0.25,
        )
        settings.update(overrides)
        return cls(**settings)

    def params(self) -> dict[str, str]:
        # Not test_names: split.json records them, and a fold's hundreds of names overflow an MLflow param value;
        # of the unlabeled photos, their number.
        params = {
            k: str(v)
            for k, v in asdict(self).items()
            if k not in ("tags", "resume", "work_dir", "cache_dir", "threads", "test_names", "unlabeled")
        }
        return params | {"unlabeled_n": str(len(self.unlabeled))}


@dataclass(frozen=True)
class TrainResult:
    version: str
    run_id: str
    extractor_id: str
    metrics: dict[str, float]
    calibration: Calibration
    seconds: float
    stage_seconds: dict[str, float]
    heldout: list[str]  # infant files (relative to the image folder) that no training step saw
