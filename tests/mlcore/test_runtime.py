"""One thread setting reaches every runtime: torch, OpenMP/MKL's environment, ONNX Runtime and OpenCV."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlcore import runtime

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: torch takes its inter-op threads only before its first parallel work.
PROBE = """
import json, os
from mlcore import runtime
runtime.configure(THREADS)
import cv2, onnxruntime, torch
options = runtime.onnx_session_options()
print(json.dumps({
    "torch": torch.get_num_threads(),
    "torch_interop": torch.get_num_interop_threads(),
    "opencv": cv2.getNumThreads(),
    "onnx_intra": options.intra_op_num_threads,
    "onnx_inter": options.inter_op_num_threads,
    "env": {name: os.environ[name] for name in runtime.THREAD_ENV},
}))
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_one_setting_reaches_every_runtime(threads: int) -> None:
    env = {key: value for key, value in os.environ.items() if key not in runtime.THREAD_ENV}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.replace("THREADS", str(threads))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "torch": threads,
        "torch_interop": 1,
        "opencv": threads,
        "onnx_intra": threads,
        "onnx_inter": 1,
        "env": dict.fromkeys(runtime.THREAD_ENV, str(threads)),
    }


def test_a_later_setting_reaches_torch_and_new_onnx_sessions() -> None:
    import torch

    before = runtime.current()
    try:
        runtime.configure(2)
        assert torch.get_num_threads() == 2
        assert runtime.onnx_session_options().intra_op_num_threads == 2
        runtime.configure(1)
        assert torch.get_num_threads() == 1
        assert runtime.onnx_session_options().intra_op_num_threads == 1
    finally:
        runtime.configure(before.intra, inter=before.inter)


def test_it_refuses_no_threads() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        runtime.configure(0)


def test_background_work_waits_while_a_served_prediction_is_in_flight_and_goes_on_when_it_ends() -> None:
    serving, release, yielded = threading.Event(), threading.Event(), threading.Event()

    def serve() -> None:
        with runtime.foreground():
            serving.set()
            release.wait(10)

    def background() -> None:
        serving.wait(10)
        assert runtime.yield_to_foreground(max_wait=10)  # idle when it returned, not timed out
        yielded.set()

    threads = [threading.Thread(target=serve), threading.Thread(target=background)]
    for thread in threads:
        thread.start()
    serving.wait(10)
    assert runtime.in_foreground()
    assert not yielded.wait(0.2)  # still stepping aside while the prediction runs
    release.set()
    assert yielded.wait(10)
    for thread in threads:
        thread.join(10)
    assert not runtime.in_foreground()


def test_a_steady_foreground_slows_background_work_but_never_stops_it() -> None:
    with runtime.foreground():
        started = time.monotonic()
        assert runtime.yield_to_foreground(max_wait=0.05) is False
        assert time.monotonic() - started < 5


def test_with_nothing_served_background_work_does_not_wait() -> None:
    started = time.monotonic()
    assert runtime.yield_to_foreground(max_wait=5)
    assert time.monotonic() - started < 1
