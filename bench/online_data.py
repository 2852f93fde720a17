"""What ``bench/online.py`` streams: a trained model with its validation sets halved, and training photos to label."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcore.datasets import FolderItem, folder_items
from mlcore.imageio import open_image_file
from mlcore.labels import LABELS
from mlcore.reference import ReferenceData

if TYPE_CHECKING:
    from mlcore.model import ExpressionModel
    from mlcore.registry import Registry


def stratified_halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first: list[int] = []
    second: list[int] = []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        first.extend(idx[: (len(idx) + 1) // 2])
        second.extend(idx[(len(idx) + 1) // 2 :])
    return np.sort(first), np.sort(second)


@dataclass(frozen=True)
class Source:
    """The trained live model, and its validation sets split into the guard's half and the held-out half."""

    version: str
    model: ExpressionModel
    reference: ReferenceData
    guard: ReferenceData
    held: ReferenceData

    @classmethod
    def load(cls, source: Registry, *, where: Path, seed: int) -> Source:
        """The live version of ``source`` (the store in ``where``); exits when it cannot be used."""
        version = source.live_version()
        if version is None:
            sys.exit(f"no live model in {where}: run bootstrap_model or train there first")
        model = source.load(version)
        reference = source.load_reference(model.extractor_id)
        if reference is None:
            sys.exit(f"version {version} in {where} has no reference data (validation sets)")
        halves = {domain: stratified_halves(reference.val_y[domain], seed) for domain in reference.domains}
        guard = validation_subset(reference, {d: rows[0] for d, rows in halves.items()}, replay=True)
        held = validation_subset(reference, {d: rows[1] for d, rows in halves.items()}, replay=False)
        return cls(version, model, reference, guard=guard, held=held)


def validation_subset(reference: ReferenceData, rows: dict[str, np.ndarray], *, replay: bool) -> ReferenceData:
    """The validation ``rows`` of each domain, with the replay pool (what the guard needs) or without it."""
    pool = slice(None) if replay else slice(0)
    return ReferenceData(
        val_x={d: reference.val_x[d][idx] for d, idx in rows.items()},
        val_y={d: reference.val_y[d][idx] for d, idx in rows.items()},
        replay_x=reference.replay_x[pool],
        replay_y=reference.replay_y[pool],
        replay_domain=reference.replay_domain[pool],
    )


@dataclass(frozen=True)
class Stream:
    """Labels to post: training photos only (a photo nearest to a validation embedding is left out)."""

    items: list[FolderItem]
    training_photos: list[FolderItem]
    left_out: int
    with_replacement: bool

    @classmethod
    def draw(cls, images: Path, source: Source, *, labels: int, seed: int) -> Stream:
        items, model, reference = folder_items(images), source.model, source.reference
        faces = [model.crop(open_image_file(str(item.path))).image for item in items]
        embedded = np.concatenate([model.embed(faces[i : i + 32]) for i in range(0, len(faces), 32)])
        infant_val = reference.val_x.get("infant", np.empty((0, embedded.shape[1])))
        infant_train = reference.replay_x[reference.replay_domain == "infant"]
        known = np.concatenate([infant_val, infant_train])
        distance = ((embedded[:, None, :] - known[None, :, :]) ** 2).sum(axis=2)
        in_validation = distance.argmin(axis=1) < len(infant_val)
        train_items = [item for item, val in zip(items, in_validation, strict=True) if not val]
        rng = np.random.default_rng(seed)
        replace = len(train_items) < labels
        stream = [train_items[i] for i in rng.choice(len(train_items), size=labels, replace=replace)]
        return cls(stream, train_items, int(in_validation.sum()), replace)

    def summary(self) -> dict[str, Any]:
        by_class = np.bincount([i.label for i in self.items], minlength=len(LABELS))
        return {
            "labels": len(self.items),
            "unique_images": len({item.path for item in self.items}),
            "training_photos_available": len(self.training_photos),
            "with_replacement": self.with_replacement,
            "validation_photos_left_out": self.left_out,
            "labels_by_class": {LABELS[c]: int(n) for c, n in enumerate(by_class)},
        }
