"""The heat map says where the model looked: it points at what the model reads, through the whole model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mlcore import saliency
from mlcore.extractor import ExtractorConfig, build_extractor
from mlcore.labels import LABELS
from mlcore.model import ExpressionModel
from mlcore.preprocess import batch
from tests.conftest import tiny_head
from tests.images import face_like


class CornerReader:
    """A stand-in model that reads only the top-left quarter of the face: bright there means "happy"."""

    config = ExtractorConfig(image_size=32)

    def embed(self, crops: list[Image.Image]) -> np.ndarray:
        side = self.config.image_size
        quarter = [
            np.asarray(c.convert("L").resize((side, side)), dtype=np.float32)[: side // 2, : side // 2] for c in crops
        ]
        return np.array([[q.mean() / 255.0] for q in quarter])

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        happy = LABELS.index("happy")
        logits = np.zeros((len(embeddings), len(LABELS)))
        logits[:, happy] = 8 * (embeddings[:, 0] - 0.5)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def bright_corner(side: int = 32) -> Image.Image:
    pixels = np.full((side, side, 3), 60, dtype=np.uint8)
    pixels[: side // 2, : side // 2] = 250
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def tiny_model() -> ExpressionModel:
    torch.manual_seed(0)
    extractor = build_extractor(ExtractorConfig(image_size=64, face_detector="none"), imagenet=False).eval()
    return ExpressionModel(extractor=extractor, head=tiny_head(), version="1", extractor_id="e", temperature=1.7)


def test_occlusion_lights_up_the_part_of_the_face_the_model_reads():
    happy = LABELS.index("happy")
    heat = saliency.occlusion(CornerReader(), bright_corner(), happy)  # type: ignore[arg-type]

    assert heat.shape == (32, 32)
    assert heat[:12, :12].mean() > 0.5 > heat[20:, 20:].mean()


def test_blurring_the_salient_pixels_first_lowers_the_probability_faster_than_the_least_salient():
    model, crop, happy = CornerReader(), bright_corner(), LABELS.index("happy")
    heat = saliency.occlusion(model, crop, happy)  # type: ignore[arg-type]

    salient_first = saliency.faithfulness_curve(model, crop, heat, happy)  # type: ignore[arg-type]
    least_first = saliency.faithfulness_curve(model, crop, 1 - heat, happy)  # type: ignore[arg-type]

    assert salient_first[0] == pytest.approx(least_first[0])
    assert saliency.curve_auc(salient_first) < saliency.curve_auc(least_first)


def test_the_gradient_runs_through_the_same_head_that_answers(tiny_model):
    crop = face_like(64, seed=3)
    tensors = batch([crop], size=64, mean=tiny_model.config.mean, std=tiny_model.config.std)
    with torch.no_grad():
        embedding = tiny_model.extractor(tensors)
        through_torch = torch.softmax(saliency._head_logits(tiny_model, embedding), dim=1).numpy()

    assert through_torch == pytest.approx(tiny_model.probabilities(embedding.numpy()), abs=1e-5)


def test_grad_cam_maps_the_whole_crop_and_leaves_the_shared_model_untouched(tiny_model):
    crop = face_like(64, seed=4)
    before = [p.detach().clone() for p in tiny_model.extractor.parameters()]

    heat = saliency.grad_cam(tiny_model, crop, target=2)

    assert heat.shape == (64, 64) and heat.min() >= 0.0 and heat.max() <= 1.0
    assert all(p.grad is None for p in tiny_model.extractor.parameters())  # nothing piles up request after request
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_model.extractor.parameters(), strict=True))


def test_the_explanation_names_the_class_the_model_answers(tiny_model):
    photo = face_like(96, seed=5)
    answer = tiny_model.predict(photo)

    found = saliency.explain(tiny_model, photo, method="occlusion")

    assert found.label == answer.top_label
    assert found.probability == pytest.approx(answer.probabilities[answer.top_label], abs=1e-4)


def test_the_overlay_reddens_the_salient_region_and_adds_a_caption_strip():
    crop = bright_corner(64).convert("RGB")
    heat = np.zeros((64, 64), dtype=np.float32)
    heat[:32, :32] = 1.0
    found = saliency.Saliency("happy", 0.9, heat, crop, None, "occlusion")

    picture = saliency.overlay(found)

    assert picture.height == picture.width + saliency.CAPTION_HEIGHT
    hot, cold = np.asarray(picture)[20, 20].astype(int), np.asarray(picture)[200, 200].astype(int)
    assert hot[0] - hot[2] > 60  # red over the salient quarter
    assert abs(cold[0] - cold[2]) < 40  # the rest keeps its colour
    assert saliency.overlay_png(found).startswith(b"\x89PNG")
