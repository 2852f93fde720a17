"""A reader of TensorFlow.js graph models (``model.json`` + weight shards) that builds a trainable torch module.

Numpy and torch only: TensorFlow's install is over a gigabyte. The graph's NHWC tensors become NCHW inside the
module (4-d ones), so the module takes and gives torch's layout. Only the ops small convolutional graphs use are
read; any other op stops the build with its name. A convolution's following per-channel multiply and add (a
batch norm the converter folded) are folded into its kernel and bias, and a chain of ReLU / minimum / maximum
with constants becomes one clamp, so the module runs as few kernels as the network needs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

DTYPES = {"float32": np.float32, "int32": np.int32}


class UnsupportedGraph(ValueError):
    """The graph uses an op or a layout this reader does not build."""


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any]


@dataclass(frozen=True)
class Graph:
    """A graph model's nodes in file order and its constant tensors by name, as numpy arrays."""

    nodes: dict[str, Node]
    constants: dict[str, np.ndarray]
    inputs: tuple[str, ...]  # Placeholder nodes
    outputs: tuple[str, ...]  # the signature's outputs, as node names


def read_graph(model_json: Path) -> Graph:
    """The topology and weights of a TensorFlow.js graph model; shards are read from beside ``model_json``."""
    model = json.loads(Path(model_json).read_text())
    if model.get("format") != "graph-model":
        raise UnsupportedGraph(f"{model_json} is a {model.get('format')!r}, not a TensorFlow.js graph-model")
    nodes: dict[str, Node] = {}
    for raw in model["modelTopology"]["node"]:
        # Inputs name a node, optionally with ":k" (its k-th output) or "^" (a control edge, not data).
        inputs = tuple(i.split(":")[0] for i in raw.get("input", []) if not i.startswith("^"))
        nodes[raw["name"]] = Node(raw["name"], raw["op"], inputs, raw.get("attr", {}))
    constants: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((Path(model_json).parent / path).read_bytes() for path in group["paths"])
        offset = 0
        for weight in group["weights"]:
            if "quantization" in weight:
                raise UnsupportedGraph(f"weight {weight['name']} is quantized; only float32 and int32 are read")
            dtype = np.dtype(DTYPES.get(weight["dtype"], np.void)).newbyteorder("<")
            if dtype.kind == "V":
                raise UnsupportedGraph(f"weight {weight['name']} has dtype {weight['dtype']}")
            count = int(np.prod(weight["shape"], dtype=np.int64))
            end = offset + count * dtype.itemsize
            if end > len(data):
                raise UnsupportedGraph(f"the weight shards end before {weight['name']} ({len(data)} bytes)")
            constants[weight["name"]] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(
                weight["shape"]
            )
            offset = end
        if offset != len(data):
            raise UnsupportedGraph(f"the weight shards hold {len(data) - offset} bytes no weight names")
    placeholders = tuple(n.name for n in nodes.values() if n.op == "Placeholder")
    outputs = tuple(o.split(":")[0] for o in model.get("signature", {}).get("outputs", {}))
    return Graph(nodes=nodes, constants=constants, inputs=placeholders, outputs=outputs)


def _ints(node: Node, key: str) -> list[int]:
    return [int(v) for v in node.attr.get(key, {}).get("list", {}).get("i", [])]


def _text(node: Node, key: str, default: str = "") -> str:
    value = node.attr.get(key, {}).get("s")
    return base64.b64decode(value).decode() if value else default


def _flag(node: Node, key: str) -> bool:
    return bool(node.attr.get(key, {}).get("b", False))


def _fused(node: Node) -> list[str]:
    return [base64.b64decode(s).decode() for s in node.attr.get("fused_ops", {}).get("list", {}).get("s", [])]


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding along one axis: the odd pixel, if any, goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> torch.Tensor:
    top, bottom = _same_padding(x.shape[-2], kernel[0], stride[0], dilation[0])
    left, right = _same_padding(x.shape[-1], kernel[1], stride[1], dilation[1])
    return F.pad(x, (left, right, top, bottom)) if top or bottom or left or right else x


class Conv(nn.Module):
    """``Conv2D`` or ``DepthwiseConv2dNative`` (NHWC in the file, NCHW here) with TensorFlow's padding."""

    def __init__(self, node: Node, kernel: np.ndarray, *, depthwise: bool) -> None:
        super().__init__()
        if _text(node, "data_format", "NHWC") != "NHWC":
            raise UnsupportedGraph(f"{node.name}: only NHWC convolutions are read")
        self.padding = _text(node, "padding", "VALID")
        if self.padding not in ("SAME", "VALID"):
            raise UnsupportedGraph(f"{node.name}: padding {self.padding} is not read")
        strides, dilations = _ints(node, "strides") or [1, 1, 1, 1], _ints(node, "dilations") or [1, 1, 1, 1]
        self.stride = (strides[1], strides[2])
        self.dilation = (dilations[1], dilations[2])
        height, width, channels, multiplier = kernel.shape
        self.groups = channels if depthwise else 1
        # HWIO → OIHW; a depthwise kernel (H, W, C, M) gives C·M outputs, M per input channel, in that order.
        weight = (
            kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, height, width)
            if depthwise
            else (kernel.transpose(3, 2, 0, 1))
        )
        self.weight = nn.Parameter(torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32)))
        self.bias: nn.Parameter | None = None

    def fold_scale(self, scale: np.ndarray) -> None:
        """Absorb a per-output-channel multiply that follows the convolution."""
        with torch.no_grad():
            self.weight.mul_(torch.from_numpy(scale.astype(np.float32)).reshape(-1, 1, 1, 1))
            if self.bias is not None:
                self.bias.mul_(torch.from_numpy(scale.astype(np.float32)))

    def fold_bias(self, bias: np.ndarray) -> None:
        """Absorb a per-output-channel add that follows the convolution."""
        addition = torch.from_numpy(bias.astype(np.float32).reshape(-1))
        if self.bias is None:
            self.bias = nn.Parameter(addition.clone())
        else:
            with torch.no_grad():
                self.bias.add_(addition)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "SAME":
            x = _pad_same(x, tuple(self.weight.shape[-2:]), self.stride, self.dilation)  # type: ignore[arg-type]
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Clamp(nn.Module):
    """ReLU, Relu6 and minimum/maximum against a constant, merged into one clamp."""

    def __init__(self, low: float | None, high: float | None) -> None:
        super().__init__()
        self.low, self.high = low, high

    def then(self, low: float | None, high: float | None) -> None:
        """Apply a further clamp after this one: clamps compose into the clamp of the first one's bounds."""

        def clamped(value: float) -> float:
            return min(max(value, -np.inf if low is None else low), np.inf if high is None else high)

        new_low = clamped(-np.inf if self.low is None else self.low)
        new_high = clamped(np.inf if self.high is None else self.high)
        self.low = None if np.isinf(new_low) else float(new_low)
        self.high = None if np.isinf(new_high) else float(new_high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, self.low, self.high)


def _channels(value: torch.Tensor, rank: int) -> torch.Tensor:
    """A constant broadcast along NHWC's last axis, laid out for an NCHW tensor of ``rank`` dimensions."""
    if rank == 4 and value.dim() == 1:
        return value.reshape(1, -1, 1, 1)
    if rank == 4 and value.dim() == 4:
        return value.permute(0, 3, 1, 2)
    return value


class Affine(nn.Module):
    """Add, BiasAdd or Mul of a tensor and a constant (trainable)."""

    def __init__(self, value: np.ndarray, *, multiply: bool) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.from_numpy(np.array(value, dtype=np.float32)))
        self.multiply = multiply

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value = _channels(self.value, x.dim())
        return x * value if self.multiply else x + value


class Binary(nn.Module):
    """Add, Mul, Minimum or Maximum of two computed tensors (a residual join, a gate)."""

    def __init__(self, op: str) -> None:
        super().__init__()
        self.op = op

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.op in ("Add", "AddV2"):
            return a + b
        if self.op == "Mul":
            return a * b
        return torch.minimum(a, b) if self.op == "Minimum" else torch.maximum(a, b)


class Mean(nn.Module):
    """``Mean`` over NHWC axes, taken over the matching NCHW axes."""

    NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}

    def __init__(self, axes: Sequence[int], *, keep_dims: bool) -> None:
        super().__init__()
        self.axes, self.keep_dims = [int(a) for a in axes], keep_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axes = [self.NCHW_AXIS[a] for a in self.axes] if x.dim() == 4 else self.axes
        return x.mean(dim=axes, keepdim=self.keep_dims)


class Pool(nn.Module):
    """``AvgPool`` or ``MaxPool`` with TensorFlow's padding (SAME averages count only the pixels inside)."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        ksize, strides = _ints(node, "ksize"), _ints(node, "strides")
        self.kernel, self.stride = (ksize[1], ksize[2]), (strides[1], strides[2])
        self.padding, self.maximum = _text(node, "padding", "VALID"), node.op == "MaxPool"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "SAME":
            if self.maximum:
                x = F.pad(x, self._pads(x), value=float("-inf"))
                return F.max_pool2d(x, self.kernel, self.stride)
            ones = torch.ones_like(x[:1, :1])
            summed = F.avg_pool2d(F.pad(x, self._pads(x)), self.kernel, self.stride, divisor_override=1)
            counts = F.avg_pool2d(F.pad(ones, self._pads(x)), self.kernel, self.stride, divisor_override=1)
            return summed / counts
        pool = F.max_pool2d if self.maximum else F.avg_pool2d
        return pool(x, self.kernel, self.stride)

    def _pads(self, x: torch.Tensor) -> tuple[int, int, int, int]:
        top, bottom = _same_padding(x.shape[-2], self.kernel[0], self.stride[0], 1)
        left, right = _same_padding(x.shape[-1], self.kernel[1], self.stride[1], 1)
        return left, right, top, bottom


class Pad(nn.Module):
    """``Pad`` with zeros; the paddings constant is NHWC."""

    def __init__(self, paddings: np.ndarray) -> None:
        super().__init__()
        rows = [tuple(int(v) for v in row) for row in np.asarray(paddings).reshape(-1, 2)]
        if len(rows) == 4:  # NHWC → NCHW, then F.pad's order: last axis first
            rows = [rows[0], rows[3], rows[1], rows[2]]
        self.pads = tuple(v for row in reversed(rows) for v in row)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)


class Dense(nn.Module):
    """``MatMul`` / ``_FusedMatMul`` (with BiasAdd and an activation) as a linear layer."""

    def __init__(self, node: Node, kernel: np.ndarray, bias: np.ndarray | None, activation: str | None) -> None:
        super().__init__()
        if _flag(node, "transpose_a"):
            raise UnsupportedGraph(f"{node.name}: a transposed left operand is not read")
        weight = kernel if _flag(node, "transpose_b") else kernel.T
        self.linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32)))
            if bias is not None:
                self.linear.bias.copy_(torch.from_numpy(bias.astype(np.float32)))
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        if self.activation == "Relu":
            return F.relu(y)
        if self.activation == "Relu6":
            return torch.clamp(y, 0.0, 6.0)
        return y


class Activation(nn.Module):
    def __init__(self, op: str) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "Sigmoid":
            return torch.sigmoid(x)
        if self.op == "Softmax":
            return torch.softmax(x, dim=1 if x.dim() == 4 else -1)
        return x  # Identity


CLAMPS = {"Relu": (0.0, None), "Relu6": (0.0, 6.0)}


class GraphModule(nn.Module):
    """The graph's ops from one input to one output, as torch modules run in order; NCHW in, NCHW out."""

    def __init__(self, graph: Graph, *, output: str, input_name: str | None = None) -> None:
        super().__init__()
        if output not in graph.nodes:
            raise UnsupportedGraph(f"no node named {output!r} in the graph")
        self.input_name = input_name or _single(graph.inputs)
        self.output = output
        self.steps = nn.ModuleList()
        self.sources: list[tuple[int, ...]] = []  # each step's inputs: earlier steps, or -1 for the model's input
        self._build(graph)

    def _build(self, graph: Graph) -> None:
        order = _needed(graph, self.output, self.input_name)
        consumers: dict[str, int] = {}
        for name in order:
            for source in graph.nodes[name].inputs:
                consumers[source] = consumers.get(source, 0) + 1
        # The step whose output is each computed node's value: its own, or the one it was folded into.
        produced: dict[str, int] = {self.input_name: -1}
        for name in order:
            node = graph.nodes[name]
            if node.op in ("Placeholder", "Const"):
                continue
            data = [i for i in node.inputs if i not in graph.constants]
            const = [graph.constants[i] for i in node.inputs if i in graph.constants]
            merged = self._fold(node, data, const, produced, consumers)
            if merged is None:
                self.steps.append(self._step(node, data, const))
                self.sources.append(tuple(produced[i] for i in data))
                merged = len(self.steps) - 1
            produced[name] = merged
        self.output_step = produced[self.output]

    def _fold(
        self,
        node: Node,
        data: list[str],
        const: list[np.ndarray],
        produced: dict[str, int],
        consumers: dict[str, int],
    ) -> int | None:
        """The step this node folds into, when it is an op with constants on a value that only it reads."""
        if len(data) != 1 or produced[data[0]] < 0 or consumers.get(data[0], 0) != 1:
            return None
        source = data[0]
        step = self.steps[produced[source]]
        if isinstance(step, Conv) and len(const) == 1 and const[0].ndim <= 1:
            out_channels = step.weight.shape[0]
            value = np.broadcast_to(const[0].astype(np.float32).reshape(-1), (out_channels,))
            if node.op == "Mul":
                step.fold_scale(value)
                return produced[source]
            if node.op in ("Add", "AddV2", "BiasAdd"):
                step.fold_bias(value)
                return produced[source]
        clamp = self._clamp(node, const)
        if isinstance(step, Clamp) and clamp is not None:
            step.then(*clamp)
            return produced[source]
        return None

    @staticmethod
    def _clamp(node: Node, const: list[np.ndarray]) -> tuple[float | None, float | None] | None:
        if node.op in CLAMPS and not const:
            return CLAMPS[node.op]
        if node.op in ("Minimum", "Maximum") and len(const) == 1 and const[0].size == 1:
            value = float(const[0].reshape(()))
            return (None, value) if node.op == "Minimum" else (value, None)
        return None

    def _step(self, node: Node, data: list[str], const: list[np.ndarray]) -> nn.Module:
        clamp = self._clamp(node, const)
        if clamp is not None:
            return Clamp(*clamp)
        if node.op in ("Conv2D", "DepthwiseConv2dNative"):
            return Conv(node, const[0], depthwise=node.op == "DepthwiseConv2dNative")
        if node.op in ("Add", "AddV2", "BiasAdd", "Mul") and len(const) == 1:
            return Affine(const[0], multiply=node.op == "Mul")
        if node.op in ("Add", "AddV2", "Mul", "Minimum", "Maximum") and len(data) == 2:
            return Binary(node.op)
        if node.op == "Mean":
            return Mean(const[0].reshape(-1).tolist(), keep_dims=_flag(node, "keep_dims"))
        if node.op in ("AvgPool", "MaxPool"):
            return Pool(node)
        if node.op == "Pad":
            return Pad(const[0])
        if node.op in ("MatMul", "_FusedMatMul"):
            fused = _fused(node)
            bias = const[1] if "BiasAdd" in fused else None
            activation = next((op for op in fused if op in ("Relu", "Relu6")), None)
            if set(fused) - {"BiasAdd", "Relu", "Relu6"}:
                raise UnsupportedGraph(f"{node.name}: fused ops {fused} are not read")
            return Dense(node, const[0], bias, activation)
        if node.op in ("Sigmoid", "Softmax", "Identity"):
            return Activation(node.op)
        raise UnsupportedGraph(f"{node.name}: op {node.op} is not read")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: list[torch.Tensor] = []
        for step, sources in zip(self.steps, self.sources, strict=True):
            values.append(step(*(x if i < 0 else values[i] for i in sources)))
        return x if self.output_step < 0 else values[self.output_step]


def _single(names: tuple[str, ...]) -> str:
    if len(names) != 1:
        raise UnsupportedGraph(f"the graph has {len(names)} inputs; name the one to use")
    return names[0]


def _needed(graph: Graph, output: str, input_name: str) -> list[str]:
    """The nodes ``output`` depends on, in an order where each comes after its inputs."""
    order: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(output, False)]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            order.append(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        if name not in graph.nodes:
            raise UnsupportedGraph(f"node {name!r} is named as an input but not defined")
        stack.append((name, True))
        node = graph.nodes[name]
        if node.op == "Placeholder" and name != input_name:
            raise UnsupportedGraph(f"{output} needs a second input, {name}")
        if node.op == "Const" and name not in graph.constants:
            raise UnsupportedGraph(f"constant {name} has no weights in the manifest")
        stack.extend((i, False) for i in reversed(node.inputs))
    return order


def build_module(model_json: Path, *, output: str, input_name: str | None = None) -> GraphModule:
    """A trainable torch module computing ``output`` of the graph model at ``model_json`` (NCHW input)."""
    return GraphModule(read_graph(model_json), output=output, input_name=input_name)
