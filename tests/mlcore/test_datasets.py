"""FER2013 CSVs and image folders as the training and evaluation code reads them."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.datasets import (
    DataFolders,
    data_folders,
    folder_items,
    is_fer_csv,
    load_labeled,
    read_fer_csv,
    write_fer_csv,
)
from mlcore.labels import LABEL_INDEX
from tests.mlcore.tiny_data import fer_csv, image_folder


def test_fer_csv_round_trips_faces_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    labels = np.array([0, 6, 3, 1, 5])
    write_fer_csv(tmp_path / "fer.csv.gz", faces, labels)
    read_faces, read_labels = read_fer_csv(tmp_path / "fer.csv.gz")
    assert np.array_equal(read_faces, faces)
    assert read_labels.tolist() == labels.tolist()


def test_fer_csv_keeps_only_the_requested_usage_and_limit(tmp_path):
    path = tmp_path / "fer.csv"
    path.write_text(
        "emotion,pixels,Usage\n"
        + "".join(f"{i % 7},{' '.join(['7'] * 2304)},{'Training' if i < 4 else 'PublicTest'}\n" for i in range(6))
    )
    assert len(read_fer_csv(path, usage="PublicTest")[1]) == 2
    assert len(read_fer_csv(path, limit=3)[1]) == 3


def test_fer_csv_without_the_pixels_column_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,Usage\n0,Training\n")
    with pytest.raises(ValueError, match="pixels"):
        read_fer_csv(path)


def test_fer_csv_with_a_short_row_is_refused(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    with pytest.raises(ValueError, match="2304"):
        read_fer_csv(path)


def test_image_folder_lists_every_image_under_its_label(tmp_path):
    root = image_folder(tmp_path / "imgs", per_label=2)
    items = folder_items(root)
    assert len(items) == 7 * 2 + 1
    assert {item.label for item in items if item.path.parent.name == "sad"} == {LABEL_INDEX["sad"]}


def test_image_folder_with_an_unknown_label_is_refused(tmp_path):
    root = image_folder(tmp_path / "imgs", per_label=1)
    (root / "sleepy").mkdir()
    with pytest.raises(ValueError, match="sleepy"):
        folder_items(root)


def test_load_labeled_reads_folders_and_csvs_alike(tmp_path):
    folder = load_labeled(image_folder(tmp_path / "imgs", per_label=1, duplicate=False))
    csv = load_labeled(fer_csv(tmp_path / "fer.csv", per_label=2))
    assert (len(folder.images), folder.precropped) == (7, False)
    assert folder.names[0] == "angry/0.png"
    assert (len(csv.images), csv.precropped) == (14, True)
    assert csv.images[0].mode == "RGB" and csv.images[0].size == (48, 48)
    assert is_fer_csv(tmp_path / "fer.csv") and not is_fer_csv(tmp_path / "imgs")


def test_a_data_folder_offers_its_first_fer_csv_and_its_infant_photos(tmp_path):
    image_folder(tmp_path / "infant", per_label=1)
    (tmp_path / "fer2013").mkdir()
    for name in ("b.csv.gz", "a.csv", "notes.txt"):
        (tmp_path / "fer2013" / name).write_text("")

    assert data_folders(tmp_path) == DataFolders(fer_csv=tmp_path / "fer2013" / "a.csv", infant_dir=tmp_path / "infant")


def test_a_data_folder_without_either_part_offers_none_of_it(tmp_path):
    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "README").write_text("")

    assert data_folders(tmp_path) == DataFolders(fer_csv=None, infant_dir=None)
    assert data_folders(tmp_path / "missing") == DataFolders(fer_csv=None, infant_dir=None)
    assert data_folders(None) == DataFolders(fer_csv=None, infant_dir=None)  # no data folder configured
