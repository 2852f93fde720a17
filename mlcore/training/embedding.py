"""After the fine-tune: target-domain batch-norm statistics, and embeddings of every photo the head learns from."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from mlcore.datasets import fer_images
from mlcore.extractor import Extractor
from mlcore.preprocess import batch
from mlcore.progress import ProgressCallback, ProgressEvent
from mlcore.training.config import NORM
from mlcore.training.run import TrainRun


def adapt_batch_norm(extractor: Extractor, x: torch.Tensor, progress: ProgressCallback) -> None:
    """Target-domain normalisation: every batch-norm layer's statistics re-estimated on infant photos (AdaBN)."""
    norms = [m for m in extractor.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]  # timm's TF ports use 0.01, torch's default is 0.1: keep each
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over all batches, not an exponential one
    extractor.train()
    data = torch.cat([x, x.flip(-1)])  # mirrored copies: more statistics, same domain
    with torch.no_grad():
        total = math.ceil(len(data) / 64)
        for i, start in enumerate(range(0, len(data), 64), 1):
            extractor(data[start : start + 64])
            progress(ProgressEvent(stage="adapt", step=i, total=total))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    extractor.eval()


def _embed(extractor: Extractor, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate(
            [extractor.embed(x[i : i + 64]).numpy() for i in range(0, len(x), 64)]
            or [np.zeros((0, extractor.config.embedding_dim))]
        ).astype(np.float32)


def embed_all(run: TrainRun) -> dict[str, Any]:
    """Embeddings through the same preprocessing as inference (FER rows go through PIL like an upload)."""
    config, fer, extractor = run.config, run.fer, run.extractor
    out: dict[str, Any] = {
        "infant": _embed(extractor, run.infant.tensors),
        "unlabeled": _embed(extractor, run.infant.unlabeled),
    }
    run.progress(ProgressEvent(stage="embed", step=1, total=3))
    if fer is not None:
        rng = np.random.default_rng([config.seed, 3])
        replay = np.sort(rng.choice(fer.train, size=min(config.fer_replay_size, len(fer.train)), replace=False))
        out["fer_replay_idx"] = replay
        for i, (key, idx) in enumerate((("fer_val", fer.val), ("fer_replay", replay)), 2):
            faces = list(fer_images(fer.faces[torch.from_numpy(idx)].numpy()))
            tensors = batch(faces, size=config.image_size, mean=NORM.mean, std=NORM.std)
            out[key] = _embed(extractor, tensors)
            run.progress(ProgressEvent(stage="embed", step=i, total=3))
    return out
