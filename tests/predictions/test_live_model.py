"""Each process holds the live model once and swaps it when the live alias moves."""

from __future__ import annotations

import threading

import pytest

from predictions import ml
from tests.conftest import tiny_head
from tests.images import face_like


@pytest.fixture
def next_version(model_registry, live_model, tiny_extractor_id):  # type: ignore[no-untyped-def]
    def register() -> str:
        return model_registry.register(head=tiny_head(seed=7), extractor_id=tiny_extractor_id, kind="test")

    return register


def test_the_model_is_loaded_once_and_reused(settings, live_model):
    settings.INFANTINO_MODEL_POLL_SECONDS = 60
    assert ml.backend().live.current() is ml.backend().live.current()


def test_a_process_follows_the_live_alias_within_the_poll_interval(settings, model_registry, live_model, next_version):
    settings.INFANTINO_MODEL_POLL_SECONDS = 0
    assert ml.backend().predict(face_like()).prediction.model_version == live_model

    newer = next_version()
    model_registry.set_live(newer)

    assert ml.backend().predict(face_like()).prediction.model_version == newer


def test_a_request_in_flight_keeps_the_model_it_started_with(live_model, next_version):
    in_flight = ml.backend().live.current()

    ml.backend().live.swap_to(next_version())

    assert ml.backend().live.current().version != live_model
    assert in_flight.version == live_model
    assert in_flight.predict(face_like()).model_version == live_model


def test_predictions_never_fail_while_the_alias_keeps_moving(settings, model_registry, live_model, next_version):
    settings.INFANTINO_MODEL_POLL_SECONDS = 0
    versions = [live_model, next_version(), next_version()]
    failures: list[BaseException] = []
    seen: set[str] = set()
    stop = threading.Event()

    def predict_repeatedly() -> None:
        while not stop.is_set():
            try:
                seen.add(ml.backend().predict(face_like(size=48)).prediction.model_version)
            except BaseException as error:
                failures.append(error)

    workers = [threading.Thread(target=predict_repeatedly) for _ in range(3)]
    for worker in workers:
        worker.start()
    for i in range(9):
        model_registry.set_live(versions[i % 3])
        ml.backend().live.swap_to(versions[i % 3])
    stop.set()
    for worker in workers:
        worker.join()

    assert failures == []
    assert seen <= set(versions) and len(seen) >= 2
