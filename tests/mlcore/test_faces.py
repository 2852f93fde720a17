"""The MTCNN detector, and its loud fallback to Haar when its weights are missing."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlcore.faces import HaarFaceDetector, crop_face, make_detector
from mlcore.mtcnn import MTCNNFaceDetector, weights_present
from tests.images import face_like


def test_without_weights_mtcnn_falls_back_to_haar_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("INFANTINO_MTCNN_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="mlcore.faces"):
        detector = make_detector("mtcnn")
    assert isinstance(detector, HaarFaceDetector)
    assert "falling back to the Haar cascade" in caplog.text


def test_an_unknown_detector_name_is_refused():
    with pytest.raises(ValueError, match="mtcnn"):
        make_detector("dlib")


@pytest.mark.skipif(not weights_present(), reason="MTCNN weights not fetched (make mtcnn-weights)")
def test_mtcnn_finds_the_face_in_a_real_infant_photo(shared_data):
    from mlcore.datasets import folder_items
    from mlcore.imageio import open_image_file

    detector = make_detector("mtcnn")
    assert isinstance(detector, MTCNNFaceDetector)
    items = folder_items(shared_data / "infant")[:5]
    crops = [crop_face(open_image_file(str(item.path)), detector) for item in items]
    assert sum(crop.found for crop in crops) >= 4
    for crop in crops:
        if crop.found:
            x, y, w, h = crop.box
            assert w > 20 and h > 20 and x >= 0 and y >= 0


def test_haar_gives_concurrent_callers_the_same_answers_as_one_caller():
    """Under ASGI each request is a thread of its own; a cascade shared by two of them fails or crashes."""
    detector = HaarFaceDetector()
    photos = [face_like(size=160 + 8 * seed, seed=seed) for seed in range(16)]
    alone = [detector.detect(photo) for photo in photos]

    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(detector.detect, photos * 4))

    assert together == alone * 4
