"""Seeded, stratified train/validation/test splits and cross-validation folds that keep near-duplicates together.

The infant set holds the same photo more than once (sometimes under two labels); a copy on each side
of a split would leak test images into training. Near-duplicates are found with a difference hash
(dHash) of a small grey thumbnail and a Hamming-distance threshold, joined into groups with
union-find, and whole groups are dealt to the sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mlcore.labels import NUM_CLASSES

HASH_SIDE = 8  # 8×8 = 64-bit hashes
DEFAULT_MAX_DISTANCE = 6  # bits out of 64: re-encodes and resizes stay within it, different photos do not


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # indices into the dataset
    val: np.ndarray
    test: np.ndarray

    def as_lists(self) -> dict[str, list[int]]:
        return {"train": self.train.tolist(), "val": self.val.tolist(), "test": self.test.tolist()}


def dhash(image: Image.Image, side: int = HASH_SIDE) -> np.ndarray:
    """Difference hash: whether each pixel of a (side+1)×side grey thumbnail is brighter than its right neighbour."""
    grey = np.asarray(image.convert("L").resize((side + 1, side), Image.Resampling.LANCZOS), dtype=np.int16)
    return (grey[:, 1:] > grey[:, :-1]).ravel()


def duplicate_groups(hashes: Sequence[np.ndarray], *, max_distance: int = DEFAULT_MAX_DISTANCE) -> np.ndarray:
    """A group id per image; images within ``max_distance`` bits of each other (transitively) share one."""
    bits = np.stack(hashes).astype(np.uint8) if len(hashes) else np.zeros((0, HASH_SIDE * HASH_SIDE), np.uint8)
    parent = np.arange(len(bits))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i in range(len(bits)):
        distances = np.count_nonzero(bits[i + 1 :] != bits[i], axis=1)
        for j in np.nonzero(distances <= max_distance)[0] + i + 1:
            a, b = find(i), find(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = np.array([find(i) for i in range(len(bits))], dtype=np.int64)
    _, group_ids = np.unique(roots, return_inverse=True)
    return group_ids


def grouped_split(
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> Split:
    """Deal whole groups to train/val/test so each label gets about the requested share on each side.

    Groups are visited in a seeded random order, rarest label first; each goes to the side that is
    furthest below its target for that group's labels. A group with two labels counts for both.
    """
    fractions = np.array([1.0 - val_fraction - test_fraction, val_fraction, test_fraction])
    if fractions[0] <= 0 or (fractions < 0).any():
        raise ValueError("val_fraction + test_fraction must be below 1 and neither negative")
    side_of = _deal(labels, groups, fractions, seed)
    return Split(*(np.sort(np.nonzero(side_of == s)[0]) for s in range(3)))


def grouped_folds(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """The test indices of each of ``k`` cross-validation folds: whole groups, each label spread evenly."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, not {k}")
    if len(np.unique(groups)) < k:
        raise ValueError(f"{len(np.unique(groups))} groups of photos cannot fill {k} folds")
    side_of = _deal(labels, groups, np.full(k, 1.0 / k), seed)
    return [np.nonzero(side_of == fold)[0] for fold in range(k)]


def _deal(labels: np.ndarray, groups: np.ndarray, fractions: np.ndarray, seed: int) -> np.ndarray:
    """The side each image goes to, dealing whole groups rarest label first to the side furthest below its share."""
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    if len(labels) != len(groups):
        raise ValueError("labels and groups differ in length")
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    targets = fractions[:, None] * counts[None, :]  # side × label
    filled = np.zeros_like(targets)
    rng = np.random.default_rng(seed)
    unique_groups = rng.permutation(np.unique(groups))
    members = {int(g): np.nonzero(groups == g)[0] for g in unique_groups}
    # Rare labels first, so their few groups spread over all sides before the common ones fill them.
    rarity = {g: min(counts[labels[idx]]) for g, idx in members.items()}
    order = sorted(members, key=lambda g: rarity[g])
    side_of = np.zeros(len(labels), dtype=np.int64)
    for g in order:
        idx = members[g]
        group_counts = np.bincount(labels[idx], minlength=NUM_CLASSES)
        present = group_counts > 0
        # Relative deficit of each side for this group's labels; the neediest side takes the group.
        deficit = ((targets[:, present] - filled[:, present]) / np.maximum(targets[:, present], 1e-9)).mean(axis=1)
        deficit[fractions == 0] = -np.inf
        side = int(np.argmax(deficit + rng.uniform(0, 1e-6, size=len(fractions))))
        filled[side] += group_counts
        side_of[idx] = side
    return side_of


def stratified_split(labels: np.ndarray, *, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices with every label in both shares (for FER2013, which has no duplicates)."""
    split = grouped_split(labels, np.arange(len(labels)), val_fraction=val_fraction, test_fraction=0.0, seed=seed)
    return split.train, split.val
