"""Agreement between annotators: Krippendorff's alpha for nominal labels, and per-image agreement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Alpha over units, each the labels it received (missing ones left out).

    Units with fewer than two labels cannot be paired and are ignored; None when nothing is
    pairable or every label is the same value (expected disagreement 0: alpha is undefined).
    """
    coincidences: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                coincidences[(c, k)] += pairs / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _), weight in coincidences.items():
        totals[c] += weight
    n = sum(totals.values())
    if n <= 1:
        return None
    observed = sum(weight for (c, k), weight in coincidences.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k) / (n - 1)
    if expected == 0:
        return None
    return 1.0 - observed / expected


def pairwise_agreement(values: Sequence[Hashable]) -> float | None:
    """Share of annotator pairs on one image that gave the same label; None below two labels."""
    m = len(values)
    if m < 2:
        return None
    agreeing = sum(n * (n - 1) for n in Counter(values).values())
    return agreeing / (m * (m - 1))


def consensus(values: Sequence[Hashable], *, needed: int) -> Hashable | None:
    """The label a strict majority gave, once at least ``needed`` labels are in; else None."""
    if len(values) < max(1, needed):
        return None
    (label, count), *_ = Counter(values).most_common(1)
    return label if count * 2 > len(values) else None


def labels_needed(*, per_image: int, suspect: bool) -> int:
    """Labels an image needs before its consensus counts: a suspect one waits for a second annotator.

    A label sent back as a likely mistake is one voice against the model's evidence; with one label per
    image it would decide its image again alone, so a suspect image needs at least two, and a strict
    majority of them (``consensus``): agreeing, they settle it; split, a third annotator or an adjudicator does.
    """
    return max(per_image, 2) if suspect else per_image
