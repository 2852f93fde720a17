"""The seeded, stratified split keeps near-duplicate photos on one side."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mlcore.split import dhash, duplicate_groups, grouped_folds, grouped_split, stratified_split
from tests.mlcore.tiny_data import distinct_face


def _reencoded(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.resize((image.width * 3 // 2, image.height * 3 // 2)).save(buffer, format="JPEG", quality=70)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def test_a_resized_reencoded_copy_hashes_close_and_another_photo_does_not():
    photo = distinct_face(1)
    copy_distance = np.count_nonzero(dhash(photo) != dhash(_reencoded(photo)))
    other_distance = np.count_nonzero(dhash(photo) != dhash(distinct_face(2)))
    assert copy_distance <= 6 < other_distance


def test_duplicates_share_a_group_transitively():
    a, b = distinct_face(1), distinct_face(2)
    groups = duplicate_groups([dhash(a), dhash(b), dhash(_reencoded(a)), dhash(_reencoded(_reencoded(a)))])
    assert groups[0] == groups[2] == groups[3] != groups[1]


def test_split_is_disjoint_complete_and_keeps_groups_together():
    labels = np.repeat(np.arange(7), 20)
    groups = np.arange(len(labels))
    groups[[0, 25, 50]] = 0  # one photo filed under three labels
    split = grouped_split(labels, groups, val_fraction=0.15, test_fraction=0.2, seed=3)
    sides = [set(split.train), set(split.val), set(split.test)]
    assert sum(len(s) for s in sides) == len(labels) == len(set().union(*sides))
    assert sum({0, 25, 50} <= side for side in sides) == 1


def test_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(7), [60, 10, 40, 80, 50, 30, 70])
    groups = np.arange(len(labels))
    split = grouped_split(labels, groups, val_fraction=0.15, test_fraction=0.2, seed=0)
    for side, share in ((split.train, 0.65), (split.val, 0.15), (split.test, 0.2)):
        counts = np.bincount(labels[side], minlength=7)
        assert np.all(np.abs(counts - share * np.bincount(labels)) <= 1.5), counts
    again = grouped_split(labels, groups, val_fraction=0.15, test_fraction=0.2, seed=0)
    other = grouped_split(labels, groups, val_fraction=0.15, test_fraction=0.2, seed=1)
    assert again.as_lists() == split.as_lists() != other.as_lists()


def test_stratified_split_puts_every_label_on_both_sides():
    labels = np.repeat(np.arange(7), [30, 4, 30, 30, 30, 30, 30])
    train, val = stratified_split(labels, val_fraction=0.25, seed=0)
    assert set(labels[val]) == set(labels[train]) == set(range(7))
    assert not set(train) & set(val)


def test_impossible_fractions_are_refused():
    with pytest.raises(ValueError):
        grouped_split(np.zeros(10, dtype=int), np.arange(10), val_fraction=0.6, test_fraction=0.5, seed=0)


def test_every_photo_is_in_exactly_one_test_fold():
    labels = np.repeat(np.arange(7), [30, 6, 25, 40, 35, 20, 45])
    folds = grouped_folds(labels, np.arange(len(labels)), 5, seed=0)
    assert len(folds) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(labels)))


def test_folds_never_split_a_group_of_near_duplicates():
    labels = np.repeat(np.arange(7), 20)
    groups = np.arange(len(labels))
    groups[[0, 25, 50]] = 0  # one photo filed under three labels
    groups[[60, 61, 62, 63]] = 60  # four copies of one photo
    folds = grouped_folds(labels, groups, 4, seed=2)
    assert sum({0, 25, 50} <= set(fold) for fold in folds) == 1
    assert sum({60, 61, 62, 63} <= set(fold) for fold in folds) == 1


def test_each_label_spreads_evenly_over_the_folds_and_the_seed_decides_the_deal():
    labels = np.repeat(np.arange(7), [57, 56, 57, 70, 70, 70, 57])
    groups = np.arange(len(labels))
    folds = grouped_folds(labels, groups, 5, seed=0)
    for fold in folds:
        counts = np.bincount(labels[fold], minlength=7)
        assert np.all(np.abs(counts - np.bincount(labels) / 5) <= 1.5), counts
    again = grouped_folds(labels, groups, 5, seed=0)
    other = grouped_folds(labels, groups, 5, seed=1)
    assert [f.tolist() for f in again] == [f.tolist() for f in folds] != [f.tolist() for f in other]


def test_a_rare_label_reaches_as_many_folds_as_it_has_photos():
    labels = np.repeat(np.arange(7), [30, 3, 30, 30, 30, 30, 30])
    folds = grouped_folds(labels, np.arange(len(labels)), 5, seed=0)
    assert sum(1 in labels[fold] for fold in folds) == 3


def test_fewer_groups_than_folds_are_refused():
    with pytest.raises(ValueError, match="cannot fill 5 folds"):
        grouped_folds(np.arange(7), np.array([0, 0, 1, 1, 2, 2, 3]), 5, seed=0)
