"""The last step of a training run: fit and calibrate the head, evaluate it, register it with what it came from."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier

from mlcore.calibration import Calibration, calibrate, scale
from mlcore.metrics import Evaluation, evaluate_probabilities
from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.progress import ProgressEvent
from mlcore.reference import ReferenceData
from mlcore.training.config import TrainConfig, TrainResult
from mlcore.training.run import TrainRun
from mlcore.versions import Kind

logger = logging.getLogger(__name__)


def fit_and_register(run: TrainRun, embeddings: dict[str, Any]) -> TrainResult:
    """Fit and calibrate the head, score the recipe on the held-out photos, then (``final_fit``) fit the head
    served on train + held-out photos; both are registered, the served one names the recipe's; the alias stays."""
    config, infant = run.config, run.infant
    split = infant.split
    head, calibration, pseudo_n = _fit_head(run, embeddings, split.train)
    evaluations = _evaluate(run, head, calibration, embeddings)
    run.clock.end()
    metrics = _metrics(run, evaluations, calibration) | {"pseudo_labeled_n": float(pseudo_n)}
    run.log_dict(
        {
            "image_dir": str(config.image_dir),
            **{side: [infant.names[i] for i in getattr(split, side)] for side in ("train", "val", "test")},
        },
        "split.json",
    )
    run.log_dict({name: e.confusion for name, e in evaluations.items()}, "confusion.json")
    final_rows = np.union1d(split.train, split.test) if config.final_fit else split.train
    extractor_id = run.registry.log_extractor(
        run.extractor,
        params={"origin": "train", "train_run_id": run.run_id},
        reference=_reference(run, embeddings, final_rows),
    )
    version = _register(run, head, calibration, extractor_id, metrics=metrics, fitted_on="train")
    if len(final_rows) > len(split.train):
        recipe = version
        head, calibration, pseudo_n = _fit_head(run, embeddings, final_rows)
        served = _evaluate(run, head, calibration, embeddings)
        del served["test_infant"]  # these photos trained it now: the recipe's held-out score stands for it
        metrics |= _metrics(run, served, calibration) | {"final_fit_n": float(len(final_rows))}
        metrics["pseudo_labeled_n"] = float(pseudo_n)
        version = _register(
            run, head, calibration, extractor_id, metrics=metrics, fitted_on="train+test", recipe=recipe
        )
    logger.info("trained version %s in %.0f s: %s", version, metrics["train_seconds"], json.dumps(metrics))
    return TrainResult(
        version=version,
        run_id=run.run_id,
        extractor_id=extractor_id,
        metrics=metrics,
        calibration=calibration,
        seconds=metrics["train_seconds"],
        stage_seconds=dict(run.clock.seconds),
        heldout=[infant.names[i] for i in split.test],
    )


def _register(
    run: TrainRun,
    head: MLPClassifier,
    calibration: Calibration,
    extractor_id: str,
    *,
    metrics: dict[str, float],
    fitted_on: str,
    recipe: str | None = None,
) -> str:
    """Register one head of this run; a final fit names the recipe version whose held-out score it carries."""
    tags = {"train_run_id": run.run_id, "heldout_split": "split.json", "fitted_on": fitted_on, **run.config.tags}
    if recipe is not None:
        tags["recipe_version"] = recipe
    return run.registry.register(
        head=head,
        extractor_id=extractor_id,
        kind=Kind.RETRAIN,
        parent=run.registry.live_version(),
        temperature=calibration.temperature,
        abstain_threshold=calibration.abstain_threshold,
        metrics=metrics,
        run_id=run.run_id,
        tags=tags,
    )


def _fit_head(run: TrainRun, embeddings: dict[str, Any], rows: np.ndarray) -> tuple[MLPClassifier, Calibration, int]:
    """A head fitted on ``rows``, calibrated on the validation photos (which no head ever trains on), and how many
    unlabeled photos it learned with its own answer (``pseudo_confidence``)."""
    config, split, y, x = run.config, run.infant.split, run.infant.labels, embeddings["infant"]
    run.progress(ProgressEvent(stage="head", step=0, total=1))
    head, calibration = _fit_calibrated(config, x[rows], y[rows], (x[split.val], y[split.val]))
    unlabeled = embeddings["unlabeled"]
    sure = np.zeros(len(unlabeled), dtype=bool)
    if config.pseudo_confidence > 0 and len(unlabeled):
        probabilities = scale(head_probabilities(head, unlabeled), calibration.temperature)
        sure = probabilities.max(axis=1) >= config.pseudo_confidence
        if sure.any():
            pseudo = probabilities[sure].argmax(axis=1)
            features, labels = np.concatenate([x[rows], unlabeled[sure]]), np.concatenate([y[rows], pseudo])
            head, calibration = _fit_calibrated(config, features, labels, (x[split.val], y[split.val]))
    run.progress(ProgressEvent(stage="head", step=1, total=1))
    return head, calibration, int(sure.sum())


def _fit_calibrated(
    config: TrainConfig, x: np.ndarray, y: np.ndarray, val: tuple[np.ndarray, np.ndarray]
) -> tuple[MLPClassifier, Calibration]:
    head = fit_head(new_head(seed=config.seed), x, y, epochs=config.head_epochs, seed=config.seed)
    return head, calibrate(head_probabilities(head, val[0]), val[1], coverage=config.coverage)


def _evaluate(
    run: TrainRun, head: MLPClassifier, calibration: Calibration, embeddings: dict[str, Any]
) -> dict[str, Evaluation]:
    """The calibrated head on infant validation and test photos, and on FER2013 validation rows."""
    split, x, y = run.infant.split, embeddings["infant"], run.infant.labels

    def evaluation(features: np.ndarray, labels: np.ndarray) -> Evaluation:
        return evaluate_probabilities(scale(head_probabilities(head, features), calibration.temperature), labels)

    evaluations = {
        "infant": evaluation(x[split.val], y[split.val]),
        "test_infant": evaluation(x[split.test], y[split.test]),
    }
    if run.fer is not None:
        evaluations["fer"] = evaluation(embeddings["fer_val"], run.fer.labels[run.fer.val])
    return evaluations


def _metrics(run: TrainRun, evaluations: dict[str, Evaluation], calibration: Calibration) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name, result in evaluations.items():
        metrics.update(result.as_metrics(name))
    seconds = run.clock.seconds
    metrics.update(
        {
            "temperature": calibration.temperature,
            "abstain_threshold": calibration.abstain_threshold,
            "val_coverage": calibration.coverage,
            "val_accuracy_answered": calibration.accuracy_answered,
            "infant_face_found": run.infant.found / len(run.infant.labels),
            "train_seconds": sum(seconds.values()),
        }
    )
    metrics.update({f"seconds_{k}": v for k, v in seconds.items()})
    return metrics


def _reference(run: TrainRun, embeddings: dict[str, Any], replay_rows: np.ndarray) -> ReferenceData:
    """Validation sets per domain and a replay pool (the infant photos the served head learned), for online learning."""
    split, x, y, fer = run.infant.split, embeddings["infant"], run.infant.labels, run.fer
    val_domains = {"infant": (x[split.val], y[split.val])}
    replay_x, replay_y, replay_domain = [x[replay_rows]], [y[replay_rows]], [np.full(len(replay_rows), "infant")]
    if fer is not None:
        val_domains["fer"] = (embeddings["fer_val"], fer.labels[fer.val])
        replay_x.append(embeddings["fer_replay"])
        replay_y.append(fer.labels[embeddings["fer_replay_idx"]])
        replay_domain.append(np.full(len(embeddings["fer_replay_idx"]), "fer"))
    return ReferenceData(
        val_x={d: v[0] for d, v in val_domains.items()},
        val_y={d: v[1] for d, v in val_domains.items()},
        replay_x=np.concatenate(replay_x),
        replay_y=np.concatenate(replay_y),
        replay_domain=np.concatenate(replay_domain),
    )
