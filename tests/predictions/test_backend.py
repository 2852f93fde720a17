"""The backend door: both implementations answer the whole protocol, with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from predictions import ml
from predictions.ml.mlflow_backend import MLflowBackend
from tests.fake_backend import FakeBackend
from tests.images import face_like

PROTOCOL_METHODS = sorted(
    name for name, member in vars(ml.Backend).items() if inspect.isfunction(member) and not name.startswith("_")
)


def parameters(function) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("implementation", [MLflowBackend, FakeBackend])
@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_each_backend_implements_every_protocol_method_with_its_parameters(implementation, method):
    assert parameters(getattr(implementation, method)) == parameters(getattr(ml.Backend, method))


def test_the_protocol_covers_predict_learn_versions_and_the_alias():
    assert {"predict", "explain", "learn", "live_version", "versions", "serve", "set_live"} <= set(PROTOCOL_METHODS)


@pytest.mark.parametrize("model", ["fake_backend", "live_model"])
def test_each_backend_explains_the_answer_it_predicts_with_a_png(model, request):
    request.getfixturevalue(model)
    photo = face_like(96, seed=2)

    answer = ml.backend().predict(photo).prediction
    explanation = ml.backend().explain(photo)

    assert explanation.png.startswith(b"\x89PNG")
    assert (explanation.label, explanation.model_version) == (answer.top_label, answer.model_version)
    assert explanation.probability == pytest.approx(answer.probabilities[answer.top_label], abs=1e-4)


def test_the_setting_chooses_the_backend(settings):
    settings.INFANTINO_ML_BACKEND = "tests.fake_backend.FakeBackend"
    ml.reset_backend()
    try:
        assert isinstance(ml.backend(), FakeBackend)
        assert ml.backend() is ml.backend()  # one per process
    finally:
        ml.reset_backend()
