"""The backend door: both implementations answer the whole protocol, with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from predictions import ml
from predictions.ml.fake import FakeBackend
from predictions.ml.mlflow_backend import MLflowBackend

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
    assert {"predict", "learn", "live_version", "versions", "serve", "set_live"} <= set(PROTOCOL_METHODS)


def test_the_setting_chooses_the_backend(settings):
    settings.INFANTINO_ML_BACKEND = "predictions.ml.fake.FakeBackend"
    ml.reset_backend()
    try:
        assert isinstance(ml.backend(), FakeBackend)
        assert ml.backend() is ml.backend()  # one per process
    finally:
        ml.reset_backend()
