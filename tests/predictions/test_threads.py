"""``INFANTINO_TORCH_THREADS`` reaches every runtime of the process that serves: torch, OpenCV and ONNX Runtime."""

from __future__ import annotations

import cv2
import pytest
import torch

from mlcore import runtime
from predictions import ml


@pytest.fixture
def restored_threads():  # type: ignore[no-untyped-def]
    before = runtime.current()
    yield
    runtime.configure(before.intra, inter=before.inter)


@pytest.mark.django_db
@pytest.mark.parametrize("threads", [2, 1])
def test_the_served_model_runs_with_the_setting(settings, live_model: str, restored_threads, threads: int) -> None:  # type: ignore[no-untyped-def]
    settings.INFANTINO_TORCH_THREADS = threads
    served = ml.backend().served()
    assert runtime.current().intra == threads
    assert torch.get_num_threads() == threads
    assert cv2.getNumThreads() == threads
    assert served.graph is not None
    assert served.graph.session.get_session_options().intra_op_num_threads == threads
