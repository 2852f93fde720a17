"""From frames to a timeline: which face is the infant's, and the labels smoothed into segments.

Pure functions over plain data: no Django, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Box = tuple[int, int, int, int]  # x, y, width, height

MIN_SEGMENT_S = 0.5  # a label must hold this long to make a segment
NEGATIVE = ("angry", "disgust", "fear", "sad")  # "distress" in the summary


class FaceTracker:
    """Follows one face from frame to frame: the largest face first, then the face that overlaps the last one most.

    A parent's face passing through (larger or not) does not take over while the infant's face is still found where
    it was; when nothing overlaps for ``lose_after`` frames the track is given up and the largest face starts a new one.
    """

    def __init__(self, *, min_overlap: float = 0.2, lose_after: int = 4) -> None:
        self.min_overlap = min_overlap
        self.lose_after = lose_after
        self.box: Box | None = None
        self.missed = 0

    def follow(self, boxes: Sequence[Box]) -> Box | None:
        """The box to read in this frame among ``boxes`` (every face found), or None when none is the infant's."""
        if self.box is not None:
            overlaps = [(overlap(self.box, box), box) for box in boxes]
            best_overlap, best = max(overlaps, key=lambda pair: pair[0], default=(0.0, None))
            if best is not None and best_overlap >= self.min_overlap:
                return self._keep(best)
            self.missed += 1
            if self.missed < self.lose_after:
                return None  # the infant turned away or is hidden: no other face stands in for a moment
        if not boxes:
            self.box = None
            return None
        return self._keep(max(boxes, key=lambda box: box[2] * box[3]))

    def _keep(self, box: Box) -> Box:
        self.box, self.missed = tuple(int(v) for v in box), 0  # type: ignore[assignment]
        return self.box  # type: ignore[return-value]


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0, min(ay + ah, by + bh) - max(ay, by))
    shared = width * height
    union = aw * ah + bw * bh - shared
    return shared / union if union > 0 else 0.0


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    label: str

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


def segments(frames: Sequence[dict[str, Any]], *, fps: float, duration_s: float) -> list[Segment]:
    """The frames' labels as segments, none shorter than ``MIN_SEGMENT_S``; frames without a face are gaps.

    Each frame stands for ``1 / fps`` seconds. Runs of one label shorter than the minimum are merged, shortest first,
    into the neighbour (within the same stretch of faces) whose label those frames found more probable; a stretch of
    faces too short for any segment is left as a gap.
    """
    step = 1.0 / fps
    shortest = max(1, round(MIN_SEGMENT_S * fps - 1e-9))  # frames a run needs
    found: list[Segment] = []
    for stretch in _stretches(frames):
        if len(stretch) < shortest:
            continue
        for first, last, label in _merged_runs(stretch, shortest):
            start = stretch[first]["t"]
            end = min(duration_s, stretch[last]["t"] + step) if duration_s else stretch[last]["t"] + step
            found.append(Segment(start=round(start, 3), end=round(max(end, start), 3), label=label))
    return found


def _stretches(frames: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive frames with a face, split at every frame without one."""
    stretches: list[list[dict[str, Any]]] = [[]]
    for frame in frames:
        if frame["label"] is None:
            stretches.append([])
        else:
            stretches[-1].append(frame)
    return [stretch for stretch in stretches if stretch]


def _merged_runs(stretch: list[dict[str, Any]], shortest: int) -> list[tuple[int, int, str]]:
    runs: list[list[Any]] = []  # [first, last, label]
    for index, frame in enumerate(stretch):
        if runs and runs[-1][2] == frame["label"]:
            runs[-1][1] = index
        else:
            runs.append([index, index, frame["label"]])
    while len(runs) > 1:
        index = min(range(len(runs)), key=lambda i: (runs[i][1] - runs[i][0], i))
        first, last, _ = runs[index]
        if last - first + 1 >= shortest:
            break
        neighbours = [i for i in (index - 1, index + 1) if 0 <= i < len(runs)]
        mass = {i: sum(stretch[f]["probabilities"][runs[i][2]] for f in range(first, last + 1)) for i in neighbours}
        into = max(neighbours, key=lambda i: (mass[i], -i))
        runs[into][0], runs[into][1] = min(runs[into][0], first), max(runs[into][1], last)
        del runs[index]
        _join_equal_neighbours(runs)
    return [(first, last, label) for first, last, label in runs]


def _join_equal_neighbours(runs: list[list[Any]]) -> None:
    index = 0
    while index < len(runs) - 1:
        if runs[index][2] == runs[index + 1][2]:
            runs[index][1] = runs[index + 1][1]
            del runs[index + 1]
        else:
            index += 1


@dataclass(frozen=True)
class Summary:
    seen_s: float  # seconds with a face
    shares: list[tuple[str, float]]  # label, percent of ``seen_s``, largest first
    longest_distress: Segment | None


def summarise(found: Sequence[Segment]) -> Summary:
    """How long each label held, as a share of the time a face was seen, and the longest distress segment."""
    seen = sum(segment.end - segment.start for segment in found)
    totals: dict[str, float] = {}
    for segment in found:
        totals[segment.label] = totals.get(segment.label, 0.0) + segment.end - segment.start
    shares = sorted(((label, 100 * s / seen) for label, s in totals.items()), key=lambda pair: -pair[1]) if seen else []
    distress = [segment for segment in found if segment.label in NEGATIVE]
    longest = max(distress, key=lambda segment: segment.end - segment.start, default=None)
    rounded = [(label, round(percent, 1)) for label, percent in shares]
    return Summary(seen_s=round(seen, 3), shares=rounded, longest_distress=longest)


def describe(summary: Summary) -> str:
    """The summary in a sentence: "happy 42 % of the time the face was seen, …; longest distress: sad, 6 s at 0:31"."""
    if not summary.shares:
        return "No face was found for half a second or more: the timeline is all gaps."
    shares = [f"{label} {percent:.0f} %" for label, percent in summary.shares[:3]]
    text = f"{shares[0]} of the time the face was seen" + "".join(f", {share}" for share in shares[1:])
    longest = summary.longest_distress
    if longest is not None:
        text += f"; longest distress: {longest.label}, {longest.end - longest.start:.1f} s at {clock(longest.start)}"
    return text + "."


def clock(seconds: float) -> str:
    """``m:ss``."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
