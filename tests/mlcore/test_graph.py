"""The extractor's ONNX graph: checked against PyTorch at registration, served by ONNX Runtime, PyTorch otherwise."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from PIL import Image

from mlcore import graph
from mlcore.extractor import ExtractorConfig, build_extractor
from mlcore.registry import ArtifactRefused, Registry
from tests.conftest import tiny_head


@pytest.fixture
def store(tmp_path: Path) -> Registry:
    return Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=(tmp_path / "artifacts").as_uri())


def fresh(store: Registry) -> Registry:
    """Another process's view of the same store: nothing remembered from registration."""
    return Registry(store.tracking_uri, artifact_root=store.artifact_root, model_name=store.model_name)


def tiny_extractor(seed: int = 3, **config: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    return build_extractor(ExtractorConfig(image_size=32, tta_flip=True, **config), imagenet=False).eval()  # type: ignore[arg-type]


def faces(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(n)
    return [Image.fromarray(rng.integers(0, 255, size=(40, 36, 3), dtype=np.uint8)) for _ in range(n)]


def register(store: Registry, extractor) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    extractor_id = store.log_extractor(extractor)
    return extractor_id, store.register(head=tiny_head(), extractor_id=extractor_id, kind="test")


def test_a_registered_extractor_is_served_by_its_graph_checked_against_pytorch(store: Registry) -> None:
    extractor = tiny_extractor(tta_zoom=True)
    extractor_id, version = register(store, extractor)
    params = store.client.get_run(extractor_id).data.params
    assert params["onnx"] == "served"
    assert float(params["onnx_max_abs_diff"]) <= graph.TOLERANCE
    assert "sha256/extractor/extractor.onnx" in params

    model = fresh(store).load(version)
    assert model.runtime == "onnxruntime"
    with torch.inference_mode():
        expected = extractor.embed(model.tensors(faces(5))).numpy()
    np.testing.assert_allclose(model.embed(faces(5)), expected, atol=1e-4)


def test_a_graph_too_far_from_pytorch_is_not_stored_and_pytorch_serves(
    store: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "TOLERANCE", 0.0)  # no exported graph matches to the last bit
    extractor_id, version = register(store, tiny_extractor())
    params = store.client.get_run(extractor_id).data.params
    assert params["onnx"].startswith("PyTorch serves it: max difference")
    assert float(params["onnx_max_abs_diff"]) > 0
    assert "sha256/extractor/extractor.onnx" not in params

    model = fresh(store).load(version)
    assert model.runtime == "pytorch"
    assert model.embed(faces(3)).shape == (3, 64)


def test_an_extractor_that_cannot_be_exported_still_registers_and_serves_through_pytorch(
    store: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(extractor):  # type: ignore[no-untyped-def]
        raise RuntimeError("Module onnx is not installed!")

    monkeypatch.setattr(graph, "_export_bytes", refuse)
    extractor_id, version = register(store, tiny_extractor())
    params = store.client.get_run(extractor_id).data.params
    assert params["onnx_max_abs_diff"] == "none"
    assert "onnx is not installed" in params["onnx"]
    assert store.load(version).runtime == "pytorch"  # the registering process too
    assert fresh(store).load(version).runtime == "pytorch"


def test_a_graph_swapped_in_the_artifact_store_is_refused(store: Registry) -> None:
    extractor_id, version = register(store, tiny_extractor())
    root = Path(urlparse(store.artifact_root or "").path)
    stored = next(root.rglob(f"{extractor_id}/**/extractor/{graph.GRAPH_FILE}"))
    assert graph.export(tiny_extractor(seed=4), stored).passed  # a valid graph, but not the one registered
    with pytest.raises(ArtifactRefused, match=r"extractor\.onnx does not match"):
        fresh(store).load(version)


def test_the_graph_keeps_the_batch_size_free() -> None:
    extractor = tiny_extractor(tta_zoom=True)
    exported = graph.ExtractorGraph(graph._export_bytes(extractor))
    x = graph.check_batch(32)
    with torch.inference_mode():
        expected = extractor.embed(torch.from_numpy(x)).numpy()
    for n in (1, 3, 8):
        np.testing.assert_allclose(exported.embed(x[:n]), expected[:n], atol=1e-4)
    assert exported.embed(x[:0]).shape == (0, 64)


def test_frozen_layers_run_through_onnx_runtime_with_pytorch_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcore.bootstrap import _Frozen

    frozen = _Frozen(tiny_extractor()).eval()
    x = torch.from_numpy(graph.check_batch(32))
    with torch.inference_mode():
        expected = frozen(x).numpy()
    sessions = []
    made = graph.ExtractorGraph
    monkeypatch.setattr(graph, "ExtractorGraph", lambda data: sessions.append(data) or made(data))
    through_graph = graph.inference(frozen, x[:2])
    np.testing.assert_allclose(through_graph(x).numpy(), expected, atol=1e-4)
    assert len(sessions) == 1

    monkeypatch.setattr(graph, "TOLERANCE", 0.0)  # the graph is refused: PyTorch runs the layers, bit for bit
    np.testing.assert_array_equal(graph.inference(frozen, x[:2])(x).numpy(), expected)
