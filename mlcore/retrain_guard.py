"""The retrain guard: may a version trained apart (a full retrain) replace the live one by itself?

Two versions trained apart share no answers to pair (``mlcore.guard`` pairs an online update with its parent
image by image). Each was scored on its own infant validation photos, drawn from what it was trained on: a retrain
after 100 labels scores itself on ~30 photos, the live line on the ~14 of the model it grew from. The old rule
promoted only when the new accuracy was at least the old, and so held back every retrain that drew harder photos:
in the learning curve a retrain on 100 more labels scored 0.367 on its 30 validation photos against the live
line's 0.571 on 14, and was refused, yet on the same 250 photos neither had trained on it scored 0.564 where the
model it would have replaced scored 0.431. So, per domain:

- infant photos (every target domain): the two accuracies are independent proportions over different photos; the
  retrain is held back only when it is significantly lower (one-sided two-proportion z-test at ``ALPHA``). A
  version's held-out photos are its validation photos plus, when it kept any, its test photos (scored before any
  final fit): more photos, more power;
- FER2013 (the source domain): every version is scored on the same validation rows, so a drop of more than
  ``tolerance`` is forgetting, as for an online update.

A retrain is the same recipe on more data; this guard keeps a broken one (a collapse, a forgotten source domain)
off live, not a good one that drew harder validation photos.
"""

from __future__ import annotations

import math

ALPHA = 0.05
SOURCE_DOMAIN = "fer"
TARGET_DOMAIN = "infant"
HELD_OUT = (TARGET_DOMAIN, f"test_{TARGET_DOMAIN}")  # metric prefixes of a version's held-out infant photos


def held_out(metrics: dict[str, float]) -> tuple[float, int] | None:
    """A version's infant accuracy over all its held-out photos and how many; None if it stored no count.

    The count is ``<prefix>_n`` where the version stored one, else the sum of its reliability bins' counts.
    """
    right, photos = 0.0, 0
    for prefix in HELD_OUT:
        accuracy, n = metrics.get(f"{prefix}_accuracy"), _photos(metrics, prefix)
        if accuracy is not None and n:
            right, photos = right + accuracy * n, photos + n
    return (right / photos, photos) if photos else None


def _photos(metrics: dict[str, float], prefix: str) -> int:
    if f"{prefix}_n" in metrics:
        return int(metrics[f"{prefix}_n"])
    return int(sum(value for key, value in metrics.items() if key.startswith(f"{prefix}_rel") and key.endswith("_n")))


def lower_p(new: tuple[float, int], old: tuple[float, int]) -> float:
    """One-sided p-value that ``new``'s accuracy is below ``old``'s, two independent proportions (pooled z)."""
    (p1, n1), (p2, n2) = new, old
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0 if p1 < p2 else 1.0
    return 0.5 * math.erfc(-((p1 - p2) / spread) / math.sqrt(2))  # the normal CDF at z


def judge(new: dict[str, float], old: dict[str, float], *, tolerance: float, alpha: float = ALPHA) -> tuple[bool, str]:
    """Whether the retrained version (``new``'s metrics) may replace the live one (``old``'s), and why."""
    reasons = []
    key = f"{SOURCE_DOMAIN}_accuracy"
    if key in new and key in old and old[key] - new[key] > tolerance + 1e-9:
        drop = old[key] - new[key]
        reasons.append(f"FER2013 accuracy fell {drop:.3f} ({old[key]:.3f} → {new[key]:.3f}), over {tolerance:.3f}")
    mine, theirs = held_out(new), held_out(old)
    if mine is None or theirs is None:
        return _by_point(new, old, reasons)
    p = lower_p(mine, theirs)
    infant = (
        f"infant accuracy {mine[0]:.3f} on {mine[1]} held-out photos against the live version's "
        f"{theirs[0]:.3f} on {theirs[1]} (p = {p:.3f})"
    )
    if p < alpha:
        reasons.append(f"{infant}: significantly lower")
    if reasons:
        return False, "; ".join(reasons)
    return True, f"{infant}: not significantly lower; FER2013 within {tolerance:.3f}"


def _by_point(new: dict[str, float], old: dict[str, float], reasons: list[str]) -> tuple[bool, str]:
    """Without photo counts (a version registered before they were kept): at least the live accuracy."""
    mine, theirs = new.get(f"{TARGET_DOMAIN}_accuracy"), old.get(f"{TARGET_DOMAIN}_accuracy")
    if mine is None or theirs is None:
        reasons.append("infant accuracy is missing on one of the versions")
    elif mine < theirs:
        reasons.append(f"infant accuracy {mine:.3f} is below the live version's {theirs:.3f}")
    if reasons:
        return False, "; ".join(reasons)
    return True, f"infant accuracy {mine:.3f} ≥ {theirs:.3f}; FER2013 within tolerance"
