"""The batched path (``predict_many``) answers as ``predict`` does one photo at a time, through either runtime."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.faces import make_detector
from predictions import ml
from tests.images import face_like


def photos() -> list:  # type: ignore[type-arg]
    """More photos than one extractor batch holds, of several sizes, faces the Haar cascade may or may not find."""
    return [face_like(size=64 + 8 * (i % 5), seed=i) for i in range(37)]


def assert_same_answers(batched: list[ml.Outcome], single: list[ml.Outcome]) -> None:
    assert len(batched) == len(single)
    for many, one in zip(batched, single, strict=True):
        assert many.prediction.label == one.prediction.label
        assert many.prediction.face_box == one.prediction.face_box
        assert many.prediction.model_version == one.prediction.model_version
        assert many.extractor_id == one.extractor_id
        np.testing.assert_allclose(many.embedding, one.embedding, atol=1e-5)
        for name, probability in one.prediction.probabilities.items():
            assert many.prediction.probabilities[name] == pytest.approx(probability, abs=1e-5)
        assert many.prediction.uncertainty == pytest.approx(one.prediction.uncertainty, abs=1e-5)


@pytest.mark.django_db
def test_the_batch_path_gives_the_answers_of_one_photo_at_a_time(live_model: str) -> None:
    backend = ml.backend()
    assert backend.served().runtime == "onnxruntime"  # the tiny extractor was registered with its graph
    images = photos()
    assert_same_answers(backend.predict_many(images), [backend.predict(image) for image in images])


@pytest.mark.django_db
def test_the_batch_path_through_pytorch_gives_the_same_answers_too(live_model: str) -> None:
    backend = ml.backend()
    served = backend.served()
    served.graph = None  # a version registered without a graph
    images = photos()
    assert_same_answers(backend.predict_many(images), [backend.predict(image) for image in images])


@pytest.mark.django_db
def test_the_two_runtimes_agree_on_the_same_photos(live_model: str) -> None:
    served = ml.backend().served()
    images = photos()
    through_graph = list(served.predict_many(images))
    graph, served.graph = served.graph, None
    through_pytorch = list(served.predict_many(images))
    served.graph = graph
    for (onnx, onnx_embedding), (torch, torch_embedding) in zip(through_graph, through_pytorch, strict=True):
        assert onnx.label == torch.label
        np.testing.assert_allclose(onnx_embedding, torch_embedding, atol=1e-4)


@pytest.mark.django_db
def test_some_photos_of_the_batch_have_a_face_and_some_do_not(live_model: str) -> None:
    detector = make_detector("haar")
    found = [bool(detector.detect(image)) for image in photos()]
    outcomes = ml.backend().predict_many(photos())
    assert [outcome.prediction.face_box is not None for outcome in outcomes] == found


@pytest.mark.django_db
def test_an_empty_batch_has_no_answers(live_model: str) -> None:
    assert ml.backend().predict_many([]) == []
