"""A folder import predicts its photos together, in batches, and a folder imported again predicts nothing again."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.imports import images_import, importer_account
from predictions.batch import BULK_PHOTOS, folder_entries
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def photo_folder(root: Path, n: int) -> Path:
    root = root / "photos"  # beside the test's media folder, not above it
    root.mkdir()
    for i in range(n):
        (root / f"photo-{i:03d}.jpg").write_bytes(jpeg_bytes(size=64, seed=i))
    return root


@pytest.fixture
def batches(fake_backend, monkeypatch):  # type: ignore[no-untyped-def]
    """How many photos each ``predict_many`` call was given."""
    sizes: list[int] = []
    predict_many = fake_backend.predict_many
    monkeypatch.setattr(fake_backend, "predict_many", lambda images: sizes.append(len(images)) or predict_many(images))
    return sizes


def test_a_folder_is_predicted_in_batches_and_each_photo_stored(tmp_path: Path, batches: list[int]) -> None:
    folder = photo_folder(tmp_path, BULK_PHOTOS + 5)
    result = images_import(entries=folder_entries(folder), annotator=importer_account())
    assert len(result.imported) == BULK_PHOTOS + 5
    assert batches == [BULK_PHOTOS, 5]


def test_a_folder_imported_again_predicts_no_photo_again(tmp_path: Path, batches: list[int]) -> None:
    folder = photo_folder(tmp_path, 6)
    images_import(entries=folder_entries(folder), annotator=importer_account())
    batches.clear()
    again = images_import(entries=folder_entries(folder), annotator=importer_account())
    assert len(again.duplicates) == 6 and not again.imported
    assert sum(batches) == 0
