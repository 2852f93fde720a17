"""Server-rendered SVG charts for the dashboard: nothing to download, they render offline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from modelops.selectors import VersionRow
from predictions.ml import ReliabilityBin


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    points: Sequence[tuple[str, float | None]]  # (x label, y) in x order; None leaves a gap


def line_chart(series: Sequence[Series], *, width: int = 720, height: int = 240, title: str = "") -> str:
    """A line chart with y from 0 to 1, one polyline per series, a dot per point with a tooltip."""
    pad_left, pad_right, pad_top, pad_bottom = 40, 12, 12, 28
    labels = list(dict.fromkeys(x for s in series for x, _ in s.points))
    if not labels:
        return ""
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    step = plot_w / max(1, len(labels) - 1)
    x_of = {label: pad_left + (i * step if len(labels) > 1 else plot_w / 2) for i, label in enumerate(labels)}

    def y_of(value: float) -> float:
        return pad_top + plot_h * (1 - max(0.0, min(1.0, value)))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{pad_left}" x2="{width - pad_right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{pad_left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text class="axis" x="{x_of[label]:.1f}" y="{height - 8}" text-anchor="middle">'
                f"v{escape(label)}</text>"
            )
    for s in series:
        segment: list[str] = []
        segments = [segment]
        for x, y in s.points:
            if y is None:
                segment = []
                segments.append(segment)
            else:
                segment.append(f"{x_of[x]:.1f},{y_of(y):.1f}")
        for points in segments:
            if len(points) > 1:
                parts.append(f'<polyline class="line {s.css_class}" points="{" ".join(points)}"/>')
        for x, y in s.points:
            if y is not None:
                parts.append(
                    f'<circle class="dot {s.css_class}" cx="{x_of[x]:.1f}" cy="{y_of(y):.1f}" r="3">'
                    f"<title>{escape(s.name)} v{escape(x)}: {y:.3f}</title></circle>"
                )
    parts.append("</svg>")
    return "".join(parts)


def accuracy_chart(versions: Sequence[VersionRow]) -> str:
    """Accuracy on both domains over the versions (given newest first), oldest on the left."""
    chronological = list(reversed(versions))
    return line_chart(
        [
            Series("Infant accuracy", "infant", [(v.version, v.scores["infant"].accuracy) for v in chronological]),
            Series("FER2013 accuracy", "fer", [(v.version, v.scores["fer"].accuracy) for v in chronological]),
        ],
        title="Accuracy on both domains over model versions",
    )


def reliability_chart(bins: Sequence[ReliabilityBin], *, title: str, size: int = 320) -> str:
    """Per confidence bin, a bar as high as its accuracy under the diagonal of perfect calibration; empty bins: none."""
    pad_left, pad_bottom, pad_top, pad_right = 52, 36, 10, 20
    plot = size - pad_left - pad_right
    height = pad_top + plot + pad_bottom

    def x_of(value: float) -> float:
        return pad_left + plot * value

    def y_of(value: float) -> float:
        return pad_top + plot * (1 - max(0.0, min(1.0, value)))

    parts = [
        f'<svg class="chart reliability" viewBox="0 0 {size} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line class="grid" x1="{x_of(0)}" x2="{x_of(1)}" y1="{y_of(tick):.1f}" y2="{y_of(tick):.1f}"/>')
        parts.append(
            f'<text class="axis" x="{pad_left - 6}" y="{y_of(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>'
        )
        parts.append(
            f'<text class="axis" x="{x_of(tick):.1f}" y="{height - 20}" text-anchor="middle">{tick:.2f}</text>'
        )
    parts.append(f'<text class="axis" x="{x_of(0.5):.1f}" y="{height - 4}" text-anchor="middle">confidence</text>')
    middle = y_of(0.5)
    parts.append(
        f'<text class="axis" x="12" y="{middle:.1f}" text-anchor="middle" transform="rotate(-90 12 {middle:.1f})">'
        "accuracy</text>"
    )
    for b in bins:
        if b.accuracy is None or b.confidence is None or not b.count:
            continue
        left, width = x_of(b.lower) + 1, plot * (b.upper - b.lower) - 2
        top = y_of(b.accuracy)
        parts.append(
            f'<rect class="bin" x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{y_of(0) - top:.1f}">'
            f"<title>{b.lower:.1f}–{b.upper:.1f}: {b.count} answers, confidence {b.confidence:.2f}, "
            f"accuracy {b.accuracy:.2f}</title></rect>"
        )
        parts.append(
            f'<circle class="dot confidence" cx="{x_of(b.confidence):.1f}" cy="{y_of(b.confidence):.1f}" r="3"/>'
        )
    parts.append(f'<line class="diagonal" x1="{x_of(0)}" y1="{y_of(0)}" x2="{x_of(1)}" y2="{y_of(1)}"/>')
    parts.append("</svg>")
    return "".join(parts)
