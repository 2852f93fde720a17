"""The extractor as an ONNX graph: exported when an extractor is registered, checked against PyTorch, served by
ONNX Runtime.

The graph computes what ``Extractor.embed`` computes (the face, and the views its config asks for, averaged), so a
version serves the same embeddings through either runtime. PyTorch stays for training and for saliency (gradients).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlcore import runtime
from mlcore.extractor import Extractor

logger = logging.getLogger(__name__)

GRAPH_FILE = "extractor.onnx"
TOLERANCE = 1e-3  # the largest difference from PyTorch's embedding a graph may show and still be served
CHECK_FACES = 8  # the fixed batch the check runs: seeded noise in the normalised input range
OPSET = 17


@dataclass(frozen=True)
class GraphCheck:
    """What the check at registration found: the graph is kept only when ``passed``."""

    passed: bool
    max_abs_diff: float | None  # None: no graph could be made or run (``error`` says why)
    error: str = ""

    def params(self) -> dict[str, str]:
        """As the extractor's run records it."""
        diff = "none" if self.max_abs_diff is None else f"{self.max_abs_diff:.3g}"
        verdict = "served" if self.passed else f"PyTorch serves it: {self.error or 'too far from PyTorch'}"[:480]
        return {"onnx_max_abs_diff": diff, "onnx": verdict}


class ExtractorGraph:
    """An exported extractor in an ONNX Runtime session, with this process's thread setting (``mlcore.runtime``)."""

    def __init__(self, graph: bytes) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(
            graph, runtime.onnx_session_options(), providers=["CPUExecutionProvider"]
        )
        self._input = self.session.get_inputs()[0].name

    def embed(self, x: np.ndarray) -> np.ndarray:
        """Embeddings (n × d, float32) of normalised faces (n × 3 × size × size); the session is thread-safe."""
        if not len(x):
            return np.zeros((0, self.session.get_outputs()[0].shape[1]), dtype=np.float32)
        return self.session.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})[0]


class _Embedding(nn.Module):
    """``Extractor.embed`` as a module's forward, which is what an export traces."""

    def __init__(self, extractor: Extractor) -> None:
        super().__init__()
        self.extractor = extractor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extractor.embed(x)


def export(extractor: Extractor, path: Path) -> GraphCheck:
    """Write ``extractor``'s graph to ``path`` if it matches PyTorch on the fixed batch; say what the check found."""
    was_training = extractor.training
    extractor.eval()
    try:
        graph = _export_bytes(extractor)
        x = check_batch(extractor.config.image_size)
        with torch.inference_mode():
            expected = extractor.embed(torch.from_numpy(x)).numpy()
        diff = float(np.abs(ExtractorGraph(graph).embed(x) - expected).max())
    except Exception as error:  # no onnx package, an operator the exporter lacks: PyTorch serves the version
        logger.warning("the extractor could not be exported to ONNX (%s); PyTorch will serve it", error)
        return GraphCheck(passed=False, max_abs_diff=None, error=f"{type(error).__name__}: {error}")
    finally:
        extractor.train(was_training)
    if not diff <= TOLERANCE:  # NaN fails too
        logger.warning("the exported extractor differs from PyTorch by %.3g; PyTorch will serve it", diff)
        return GraphCheck(passed=False, max_abs_diff=diff, error=f"max difference {diff:.3g} > {TOLERANCE}")
    path.write_bytes(graph)
    return GraphCheck(passed=True, max_abs_diff=diff)


def check_batch(image_size: int) -> np.ndarray:
    """The fixed faces every graph is checked on: seeded, so the recorded difference can be reproduced."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1.0, 1.0, size=(CHECK_FACES, 3, image_size, image_size)).astype(np.float32)


def _export_bytes(extractor: Extractor) -> bytes:
    example = torch.from_numpy(check_batch(extractor.config.image_size)[:2])
    return export_module(_Embedding(extractor), example)


def export_module(module: nn.Module, example: torch.Tensor) -> bytes:
    """``module`` (eval mode) as an ONNX graph whose first dimension, the batch, stays free."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation on every call
        torch.onnx.export(
            module.eval(),
            (example,),
            buffer,  # type: ignore[arg-type]  # typed for paths; the TorchScript exporter writes to any file object
            dynamo=False,  # the torch.export-based one needs onnxscript, and traces this model no better
            input_names=["faces"],
            output_names=["embeddings"],
            dynamic_axes={"faces": {0: "n"}, "embeddings": {0: "n"}},
            opset_version=OPSET,
        )
    return buffer.getvalue()


def inference(module: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``module`` for inference only: through ONNX Runtime when its graph matches PyTorch on ``example`` (within
    ``TOLERANCE``), else through PyTorch. Bulk passes of frozen layers (the starter's cached activations) use it."""

    def eager(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x)

    try:
        session = ExtractorGraph(export_module(module, example))
        with torch.inference_mode():
            diff = float(np.abs(session.embed(example.numpy()) - module(example).numpy()).max())
    except Exception as error:  # no onnx package, an operator the exporter lacks
        logger.info("frozen layers run in PyTorch: %s", error)
        return eager
    if not diff <= TOLERANCE:
        logger.info("frozen layers run in PyTorch: their graph differs by %.3g", diff)
        return eager
    return lambda x: torch.from_numpy(session.embed(x.numpy()))
