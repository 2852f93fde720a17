from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.annotations.live_server import labeling_app
from tests.images import jpeg_bytes

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with labeling_app(tmp_path_factory.mktemp("labeling-var")) as running:
        yield running


def test_twenty_labels_at_once_are_learned_in_one_line_each_named_once_while_predictions_keep_working(
    app, tmp_path: Path
):
    images = [app.upload(seed) for seed in range(20)]
    stop = threading.Event()
    prediction_codes: list[int] = []

    def keep_predicting() -> None:
        seed = 100
        while not stop.is_set():
            response = requests.post(
                f"{app.url}/api/predictions/",
                timeout=60,
                files={"image": ("p.jpg", jpeg_bytes(size=64, seed=seed), "image/jpeg")},
            )
            prediction_codes.append(response.status_code)
            seed += 1

    predictors = [threading.Thread(target=keep_predicting) for _ in range(2)]
    for thread in predictors:
        thread.start()
    try:
        barrier = threading.Barrier(8)

        def post(i: int) -> requests.Response:
            if i < 8:
                barrier.wait(timeout=30)  # the first eight leave together
            return app.annotator().post(
                f"{app.url}/api/annotations/", json={"image": images[i], "label": LABELS[i % 7]}, timeout=60
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(post, range(20)))
        assert [r.status_code for r in responses] == [201] * 20
        settled = app.wait_until_settled([r.json()["id"] for r in responses])
    finally:
        stop.set()
        for thread in predictors:
            thread.join(timeout=60)

    assert {a["status"] for a in settled} == {"learned"}
    versions = sorted({int(a["model_version"]) for a in settled})
    assert 1 <= len(versions) <= 20  # labels that waited together were learned together
    registry = app.registry()
    line = [int(app.base_version), *versions]
    parents = [registry.version_info(str(v)).parent for v in versions]
    assert parents == [str(v) for v in line[:-1]]  # each built on the one before: no lost update
    assert registry.live_version() == str(versions[-1])
    named = [int(pk) for v in versions for pk in registry.version_info(str(v)).tags["annotation_ids"].split(",")]
    assert sorted(named) == sorted(a["id"] for a in settled)  # every label in exactly one version's lineage
    for annotation in settled:
        tags = registry.version_info(str(annotation["model_version"])).tags
        assert str(annotation["id"]) in tags["annotation_ids"].split(",")
    assert prediction_codes and set(prediction_codes) == {201}
    live = requests.get(f"{app.url}/api/models/live/", timeout=30).json()
    assert live["version"] == str(versions[-1])
