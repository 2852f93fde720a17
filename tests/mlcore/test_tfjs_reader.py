"""The TensorFlow.js graph reader, on a tiny graph written here and checked against numpy."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mlcore.backbones.tfjs import UnsupportedGraph, build_module, read_graph


def _s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _conv_attr(stride: int) -> dict[str, Any]:
    return {
        "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
        "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
        "padding": _s("SAME"),
        "data_format": _s("NHWC"),
    }


def _weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A conv (stride 2) → bias → relu6, a depthwise conv with two outputs per channel → scale → bias → relu6,
    a 1×1 conv → bias → relu, global mean, and a dense layer with a fused bias and relu."""
    return {
        "c1/kernel": rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32),
        "c1/bias": rng.normal(0, 0.5, (4,)).astype(np.float32),
        "six": np.array(6.0, dtype=np.float32),
        "zero": np.array(0.0, dtype=np.float32),
        "dw/kernel": rng.normal(0, 0.5, (3, 3, 4, 2)).astype(np.float32),
        "dw/scale": rng.normal(1, 0.3, (8,)).astype(np.float32),
        "dw/bias": rng.normal(0, 0.5, (8,)).astype(np.float32),
        "pw/kernel": rng.normal(0, 0.5, (1, 1, 8, 5)).astype(np.float32),
        "pw/bias": rng.normal(0, 0.5, (5,)).astype(np.float32),
        "axes": np.array([1, 2], dtype=np.int32),
        "fc/kernel": rng.normal(0, 0.5, (5, 3)).astype(np.float32),
        "fc/bias": rng.normal(0, 0.5, (3,)).astype(np.float32),
    }


def _node(name: str, op: str, inputs: list[str], attr: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "op": op, "input": inputs, "attr": attr or {}}


def write_tiny_graph(folder: Path, weights: dict[str, np.ndarray], *, extra_bytes: bytes = b"") -> Path:
    """A graph-model in the layout the TensorFlow.js converter writes: topology, manifest, one shard."""
    nodes = [_node("input", "Placeholder", [], {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "8"}]}}})]
    nodes += [_node(name, "Const", []) for name in weights]
    nodes += [
        _node("c1/conv", "Conv2D", ["input", "c1/kernel"], _conv_attr(2)),
        _node("c1/add", "Add", ["c1/conv", "c1/bias"]),
        _node("c1/relu", "Relu", ["c1/add"]),
        _node("c1/min", "Minimum", ["c1/relu", "six"]),
        _node("c1/max", "Maximum", ["c1/min", "zero"]),
        _node("dw/conv", "DepthwiseConv2dNative", ["c1/max", "dw/kernel"], _conv_attr(1)),
        _node("dw/mul", "Mul", ["dw/conv", "dw/scale"]),
        _node("dw/add", "Add", ["dw/mul", "dw/bias"]),
        _node("dw/relu", "Relu", ["dw/add"]),
        _node("dw/min", "Minimum", ["dw/relu", "six"]),
        _node("dw/max", "Maximum", ["dw/min", "zero"]),
        _node("pw/conv", "Conv2D", ["dw/max", "pw/kernel"], _conv_attr(1)),
        _node("pw/add", "Add", ["pw/conv", "pw/bias"]),
        _node("pw/relu", "Relu", ["pw/add"]),
        _node("pool/Mean", "Mean", ["pw/relu", "axes"], {"keep_dims": {"b": False}}),
        _node(
            "fc/Relu",
            "_FusedMatMul",
            ["pool/Mean", "fc/kernel", "fc/bias"],
            {"fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu")["s"]]}}},
        ),
    ]
    manifest = [
        {"name": name, "shape": list(value.shape), "dtype": "int32" if value.dtype == np.int32 else "float32"}
        for name, value in weights.items()
    ]
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["tiny.bin"], "weights": manifest}],
        "signature": {"outputs": {"fc/Relu:0": {"name": "fc/Relu:0"}}},
    }
    (folder / "tiny.bin").write_bytes(
        b"".join(v.astype(v.dtype.newbyteorder("<")).tobytes() for v in weights.values()) + extra_bytes
    )
    (folder / "tiny.json").write_text(json.dumps(model))
    return folder / "tiny.json"


def same_pad(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """TensorFlow's SAME padding of an NHWC batch: the odd pixel goes after."""
    pads = []
    for size in x.shape[1:3]:
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)])


def conv_nhwc(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    k = kernel.shape[0]
    padded = same_pad(x, k, stride)
    out_h, out_w = -(-x.shape[1] // stride), -(-x.shape[2] // stride)
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, i * stride : i * stride + k, j * stride : j * stride + k, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, kernel)
    return out


def depthwise_nhwc(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    k, channels, multiplier = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    padded = same_pad(x, k, 1)
    out = np.zeros((*x.shape[:3], channels * multiplier))
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            patch = padded[:, i : i + k, j : j + k, :]
            out[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch, kernel).reshape(x.shape[0], -1)
    return out


def expected(x: np.ndarray, w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The pooled feature and the dense output, computed in NHWC with numpy alone."""
    h = np.clip(conv_nhwc(x, w["c1/kernel"], 2) + w["c1/bias"], 0, 6)
    h = np.clip(depthwise_nhwc(h, w["dw/kernel"]) * w["dw/scale"] + w["dw/bias"], 0, 6)
    h = np.maximum(conv_nhwc(h, w["pw/kernel"], 1) + w["pw/bias"], 0)
    pooled = h.mean(axis=(1, 2))
    return pooled, np.maximum(pooled @ w["fc/kernel"] + w["fc/bias"], 0)


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    weights = _weights(np.random.default_rng(0))
    return write_tiny_graph(tmp_path, weights), weights


def test_it_reproduces_the_pooled_feature_and_the_dense_output_numpy_computes(tiny) -> None:  # type: ignore[no-untyped-def]
    path, weights = tiny
    x = np.random.default_rng(1).normal(0, 1, (2, 8, 8, 3)).astype(np.float32)  # 8 px, stride 2: padding 0 + 1
    pooled, dense = expected(x.astype(np.float64), weights)
    nchw = torch.from_numpy(x).permute(0, 3, 1, 2)
    with torch.no_grad():
        got_pooled = build_module(path, output="pool/Mean")(nchw).numpy()
        got_dense = build_module(path, output="fc/Relu")(nchw).numpy()
    assert got_pooled.shape == (2, 5)
    np.testing.assert_allclose(got_pooled, pooled, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_dense, dense, rtol=1e-5, atol=1e-5)
    assert np.abs(pooled).max() > 0.1  # the check means something only if the features are not all clipped to 0


def test_it_folds_scales_and_biases_into_the_convolutions_and_merges_the_clamps(tiny) -> None:  # type: ignore[no-untyped-def]
    path, _ = tiny
    module = build_module(path, output="pool/Mean")
    assert [type(step).__name__ for step in module.steps] == ["Conv", "Clamp", "Conv", "Clamp", "Conv", "Clamp", "Mean"]
    assert (module.steps[1].low, module.steps[1].high) == (0.0, 6.0)


def test_the_module_is_trainable_down_to_the_first_kernel(tiny) -> None:  # type: ignore[no-untyped-def]
    path, _ = tiny
    module = build_module(path, output="pool/Mean")
    before = module.steps[0].weight.detach().clone()
    optimiser = torch.optim.SGD(module.parameters(), lr=0.1)
    loss = module(torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(2))).pow(2).sum()
    loss.backward()
    optimiser.step()
    assert not torch.equal(module.steps[0].weight.detach(), before)


def test_an_op_it_does_not_read_is_named(tmp_path: Path) -> None:
    weights = _weights(np.random.default_rng(0))
    path = write_tiny_graph(tmp_path, weights)
    model = json.loads(path.read_text())
    for node in model["modelTopology"]["node"]:
        if node["name"] == "c1/relu":
            node["op"] = "Elu"
    path.write_text(json.dumps(model))
    with pytest.raises(UnsupportedGraph, match="c1/relu: op Elu"):
        build_module(path, output="pool/Mean")


def test_a_shard_longer_than_its_manifest_is_refused(tmp_path: Path) -> None:
    path = write_tiny_graph(tmp_path, _weights(np.random.default_rng(0)), extra_bytes=b"\0" * 8)
    with pytest.raises(UnsupportedGraph, match="8 bytes no weight names"):
        read_graph(path)
