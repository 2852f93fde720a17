"""Following the infant's face across frames, and smoothing the frames' labels into segments."""

from __future__ import annotations

import pytest

from videos.timeline import MIN_SEGMENT_S, FaceTracker, Segment, describe, segments, summarise

INFANT = (100, 100, 50, 50)
PARENT = (300, 80, 120, 120)  # larger, elsewhere in the frame


def test_the_tracker_starts_on_the_largest_face():
    assert FaceTracker().follow([INFANT, PARENT]) == PARENT


def test_a_larger_face_passing_through_does_not_take_over_from_the_infant():
    tracker = FaceTracker()
    assert tracker.follow([INFANT]) == INFANT

    picked = [tracker.follow([(104 + i, 102, 50, 50), PARENT]) for i in range(5)]

    assert picked == [(104 + i, 102, 50, 50) for i in range(5)]


def test_when_the_infant_is_hidden_for_a_moment_no_other_face_stands_in():
    tracker = FaceTracker(lose_after=4)
    tracker.follow([INFANT])

    assert [tracker.follow([PARENT]) for _ in range(3)] == [None, None, None]
    assert tracker.follow([INFANT]) == INFANT  # found again where it was


def test_a_track_lost_for_long_starts_again_on_the_largest_face():
    tracker = FaceTracker(lose_after=2)
    tracker.follow([INFANT])

    assert tracker.follow([PARENT]) is None
    assert tracker.follow([PARENT]) == PARENT


def frame(t: float, label: str | None, p: float = 0.8) -> dict:
    if label is None:
        return {"t": t, "label": None, "probabilities": None, "face": None, "unsure": False}
    others = (1 - p) / 6
    probabilities = {name: others for name in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")}
    probabilities[label] = p
    return {"t": t, "label": label, "probabilities": probabilities, "face": [0, 0, 10, 10], "unsure": False}


def at_four_per_second(labels: list[str | None]) -> list[dict]:
    return [frame(i / 4, label) for i, label in enumerate(labels)]


def test_a_one_frame_flicker_is_absorbed_into_the_label_around_it():
    frames = at_four_per_second(["happy"] * 4 + ["sad"] + ["happy"] * 3)

    assert segments(frames, fps=4, duration_s=2.0) == [Segment(0.0, 2.0, "happy")]


def test_labels_held_half_a_second_or_more_make_their_own_segments():
    frames = at_four_per_second(["happy"] * 4 + ["sad"] * 2 + ["neutral"] * 4)

    found = segments(frames, fps=4, duration_s=2.5)

    assert [(s.start, s.end, s.label) for s in found] == [(0.0, 1.0, "happy"), (1.0, 1.5, "sad"), (1.5, 2.5, "neutral")]
    assert all(s.end - s.start >= MIN_SEGMENT_S for s in found)


def test_a_short_run_joins_the_neighbour_its_frames_found_more_probable():
    frames = at_four_per_second(["happy"] * 4 + ["surprise"] + ["sad"] * 4)
    frames[4]["probabilities"]["sad"] = 0.15  # the odd frame leans to sad rather than happy
    frames[4]["probabilities"]["happy"] = 0.01

    found = segments(frames, fps=4, duration_s=2.25)

    assert [(s.start, s.end, s.label) for s in found] == [(0.0, 1.0, "happy"), (1.0, 2.25, "sad")]


def test_frames_without_a_face_are_gaps_and_a_glimpse_shorter_than_half_a_second_makes_no_segment():
    frames = at_four_per_second(["happy"] * 3 + [None] * 2 + ["sad"] + [None] + ["sad"] * 2)

    found = segments(frames, fps=4, duration_s=2.25)

    assert [(s.start, s.end, s.label) for s in found] == [(0.0, 0.75, "happy"), (1.75, 2.25, "sad")]


def test_the_summary_gives_shares_of_the_time_seen_and_the_longest_distress():
    found = [Segment(0.0, 4.0, "happy"), Segment(4.0, 10.0, "sad"), Segment(31.0, 38.0, "fear")]

    summary = summarise(found)

    assert summary.seen_s == pytest.approx(17.0)
    assert summary.shares[0] == ("fear", pytest.approx(41.2))
    assert describe(summary) == (
        "fear 41 % of the time the face was seen, sad 35 %, happy 24 %; longest distress: fear, 7.0 s at 0:31."
    )


def test_a_clip_without_a_face_is_summarised_as_all_gaps():
    assert "all gaps" in describe(summarise([]))
