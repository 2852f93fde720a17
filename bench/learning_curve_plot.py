"""The learning curve as a PNG drawn with Pillow (already installed): held-out accuracy against labels given.

One line per variant (the mean over seeds: after every label online, at each checkpoint for the refit, dashed, and
for the line with periodic retrains) inside a
band from the lowest to the highest seed, the start as each line's first point, and the full retrain as one marker
after all labels.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bench.learning_curve_maths import Curve

Pixel = tuple[float, float]  # pixels

WIDTH, HEIGHT = 1060, 620
LEFT, RIGHT, TOP, BOTTOM = 70, 330, 70, 60
COLOURS = {
    "queue": (31, 119, 180),
    "random": (255, 127, 14),
    "least_confident": (44, 160, 44),
}
RETRAIN_COLOUR = (214, 39, 40)
PERIODIC_COLOUR = (148, 103, 189)  # the shipped order with the app's periodic retrains


def plot(variants: dict[str, list[Curve]], path: Path, *, retrain: tuple[int, float] | None, title: str) -> Path:
    """Write the chart to ``path`` (PNG); ``retrain`` is (labels, accuracy) of the full retrain, if run."""
    values = [p.accuracy for curves in variants.values() for c in curves for p in c.points]
    values += [retrain[1]] if retrain else []
    low, high = max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.05)
    most = max(c.points[-1].labels for curves in variants.values() for c in curves) or 1

    def xy(labels: float, accuracy: float) -> tuple[float, float]:
        x = LEFT + (WIDTH - LEFT - RIGHT) * labels / most
        return x, TOP + (HEIGHT - TOP - BOTTOM) * (1 - (accuracy - low) / max(high - low, 1e-9))

    series = {name: _series(curves, xy) for name, curves in sorted(variants.items())}
    bands = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    for name, (band, _) in series.items():
        ImageDraw.Draw(bands).polygon(band, fill=(*_colour(name), 40))
    image = Image.alpha_composite(Image.new("RGBA", (WIDTH, HEIGHT), "white"), bands)
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=14)
    _axes(draw, font, xy, low=low, high=high, most=most)
    for row, (name, (_, line)) in enumerate(series.items()):
        dashed, legend_y = name.endswith("/refit"), TOP + 24 * row
        _line(draw, line, _colour(name), dashed)
        legend = [(WIDTH - RIGHT + 16, legend_y + 8), (WIDTH - RIGHT + 46, legend_y + 8)]
        _line(draw, legend, _colour(name), dashed)
        draw.text((WIDTH - RIGHT + 54, legend_y), f"{name} ({len(variants[name])} seeds)", fill="black", font=font)
    if retrain is not None:
        x, y = xy(*retrain)
        draw.rectangle((x - 5, y - 5, x + 5, y + 5), fill=RETRAIN_COLOUR)
        legend_y = TOP + 24 * len(series)
        draw.rectangle((WIDTH - RIGHT + 26, legend_y + 3, WIDTH - RIGHT + 36, legend_y + 13), fill=RETRAIN_COLOUR)
        draw.text((WIDTH - RIGHT + 54, legend_y), "full retrain", fill="black", font=font)
    draw.text((LEFT, 10), title, fill="black", font=font)
    image.convert("RGB").save(path)
    return path


def _colour(name: str) -> tuple[int, int, int]:
    if name.endswith("/retrain"):
        return PERIODIC_COLOUR
    return COLOURS.get(name.split("/")[0], (100, 100, 100))


def _series(curves: list[Curve], xy: Callable[[float, float], Pixel]) -> tuple[list[Pixel], list[Pixel]]:
    """The band (lowest to highest seed, as one polygon) and the mean line of one variant, in pixels."""
    if all(c.trace for c in curves):  # online runs were scored after every label: draw every step
        labels = list(range(min(len(c.trace) for c in curves)))
        per_seed = [[c.trace[n] for c in curves] for n in labels]
    else:
        labels = [p.labels for p in curves[0].points]
        per_seed = [[c.at(n).accuracy for c in curves] for n in labels]
    top = [xy(n, max(v)) for n, v in zip(labels, per_seed, strict=True)]
    bottom = [xy(n, min(v)) for n, v in zip(labels, per_seed, strict=True)]
    return top + bottom[::-1], [xy(n, sum(v) / len(v)) for n, v in zip(labels, per_seed, strict=True)]


def _axes(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont,
    xy: Callable[[float, float], Pixel],
    *,
    low: float,
    high: float,
    most: int,
) -> None:
    """Grid, ticks and axis titles: accuracy every 5 points, labels at round steps."""
    tick = low - low % 0.05 + 0.05
    while tick <= high:
        (x0, y), (x1, _) = xy(0, tick), xy(most, tick)
        draw.line((x0, y, x1, y), fill=(225, 225, 225))
        draw.text((x0 - 8, y), f"{tick:.2f}", fill="black", font=font, anchor="rm")
        tick += 0.05
    step = 25 if most <= 250 else 50
    for labels in range(0, most + 1, step):
        x, y = xy(labels, low)
        draw.line((x, y, x, y + 5), fill="black")
        draw.text((x, y + 8), str(labels), fill="black", font=font, anchor="mt")
    (x0, y0), (x1, _) = xy(0, low), xy(most, low)
    draw.line((x0, y0, x1, y0), fill="black")
    draw.line((x0, y0, x0, TOP), fill="black")
    draw.text(((x0 + x1) / 2, HEIGHT - 20), "labels given", fill="black", font=font, anchor="mm")
    draw.text((10, TOP - 30), "held-out infant accuracy", fill="black", font=font)


def _line(draw: ImageDraw.ImageDraw, points: list[Pixel], colour: tuple[int, int, int], dashed: bool) -> None:
    """A polyline; dashed for the refit method, so the methods read apart even where their colours match."""
    if not dashed:
        draw.line(points, fill=colour, width=3)
        return
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        pieces = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 // 8))
        for i in range(0, pieces, 2):
            a, b = i / pieces, min(1.0, (i + 1) / pieces)
            draw.line(
                (x0 + a * (x1 - x0), y0 + a * (y1 - y0), x0 + b * (x1 - x0), y0 + b * (y1 - y0)), fill=colour, width=3
            )
        draw.ellipse((x1 - 3, y1 - 3, x1 + 3, y1 + 3), fill=colour)
