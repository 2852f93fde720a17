"""The forgetting guard's statistics: a candidate head judged on the same images as the anchor and the parent.

A threshold on accuracy over ~70 infant photos cannot tell one label's harm from the set's noise: one
standard error is ~6 points, so the old rule let the line drift that far while refusing correct labels
that moved a couple of photos. Judged image by image against the anchor instead, only the photos whose
answer changed carry evidence, and an exact one-sided McNemar test on them says whether the candidate
is worse or merely different. The rule, per update:

- a target domain (every one but FER2013) holds the update back when the candidate is significantly
  worse than its parent (one label that did real harm) at ``ALPHA``, or than the anchor at
  ``ANCHOR_ALPHA``: the line meets its anchor after every label, hundreds of looks at the same photos,
  and at 0.05 chance alone brought it to the edge, where every label that cost one photo was refused
  (122 of 150 labels in a learning-curve run);
- the source domain holds it back when its accuracy on a fixed sample falls more than ``tolerance``
  below the anchor: a small, real loss on the source is the price of adapting, the bound caps it.
  When that bound is the only rule broken, the verdict says so (``forgetting_only``): the learner may
  then rehearse the source domain with the label and ask again, rather than refuse a correct label
  because the line stands at the bound;
- on every domain, no class may collapse: a class with at least ``CLASS_MIN_IMAGES`` images whose
  recall falls below half the anchor's, by at least ``CLASS_MIN_DROP`` and ``CLASS_MIN_LOST`` images.
  A one-image flip is noise on a class of 3–10 photos; a class that stops being predicted is not,
  and the domain's accuracy barely shows it when other classes gain. Against a parent, the collapse
  must be the update's doing: significantly worse than the parent on that class's own images.

A rule measured against the anchor holds an update back only when the candidate is also worse than
its parent on that domain (or class): a label that leaves the line no worse is never refused for harm
the line had before it (a version made live by hand, or while the guard was off), so the line cannot
get stuck, and the anchor still bounds how far accepted steps can drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.neural_network import MLPClassifier

from mlcore.labels import LABELS
from mlcore.online import head_probabilities
from mlcore.reference import ReferenceData

ALPHA = 0.05  # one-sided level of the paired test: a correct label is refused by chance at most this often
ANCHOR_ALPHA = 0.01  # the same test against the anchor, which the line meets again after every label
SOURCE_DOMAIN = "fer"  # the domain the extractor came from; judged by the forgetting bound, not significance
SOURCE_SAMPLE = 1000  # FER2013 validation images the guard scores: fixed, so every update sees the same ones
SAMPLE_SEED = 0
CLASS_MIN_IMAGES = 3  # fewer images than this make a class's recall too coarse to call a collapse
CLASS_MIN_DROP = 0.25  # recall points a collapsing class must lose, besides falling below half
CLASS_MIN_LOST = 2  # images a collapsing class must lose: one flipped image is never a collapse


@dataclass(frozen=True)
class Pool:
    """The validation images every candidate is judged on, per domain."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]  # one readable line per broken rule
    metrics: dict[str, float]  # "guard_<domain>_p_anchor", "guard_<domain>_change_anchor" (candidate − anchor)
    forgetting_only: bool = False  # the source domain's forgetting bound is the one rule broken


def pool_of(reference: ReferenceData, *, source_sample: int = SOURCE_SAMPLE) -> Pool:
    """Every target-domain validation image and a fixed sample of the source's (the same rows on every call)."""
    x: dict[str, np.ndarray] = {}
    y: dict[str, np.ndarray] = {}
    for domain in reference.domains:
        rows = np.arange(len(reference.val_y[domain]))
        if domain == SOURCE_DOMAIN and len(rows) > source_sample:
            rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(rows, size=source_sample, replace=False))
        if len(rows):
            x[domain], y[domain] = reference.val_x[domain][rows], reference.val_y[domain][rows]
    return Pool(x=x, y=y)


def predict(head: MLPClassifier, pool: Pool) -> dict[str, np.ndarray]:
    """The class ``head`` answers for each image of ``pool`` (temperature never changes the answer)."""
    return {domain: head_probabilities(head, x).argmax(axis=1) for domain, x in pool.x.items()}


def exact_mcnemar(worse: int, better: int) -> float:
    """One-sided exact McNemar p-value: the chance of ``worse`` or more of the changed images going wrong
    if a change were as likely to fix an image as to break it (a sign test on the discordant pairs)."""
    changed = worse + better
    if changed == 0:
        return 1.0
    return sum(math.comb(changed, k) for k in range(worse, changed + 1)) / 2**changed


def judge(
    pool: Pool,
    candidate: dict[str, np.ndarray],
    anchor: dict[str, np.ndarray],
    parent: dict[str, np.ndarray] | None = None,
    *,
    tolerance: float,
    alpha: float = ALPHA,
    anchor_alpha: float = ANCHOR_ALPHA,
) -> Verdict:
    """Whether ``candidate``'s answers on ``pool`` break none of the rules above against ``anchor`` (and
    ``parent``, the head it was learned from, when that is not the anchor), with the reasons if they do."""
    reasons: list[str] = []
    forgetting: list[str] = []
    metrics: dict[str, float] = {}
    for domain, y in pool.y.items():
        right, at_anchor = candidate[domain] == y, anchor[domain] == y
        before = None if parent is None else parent[domain]
        at_parent = at_anchor if before is None else before == y
        metrics[f"guard_{domain}_p_anchor"] = exact_mcnemar(*_changes(right, at_anchor))
        metrics[f"guard_{domain}_change_anchor"] = float(right.mean() - at_anchor.mean())
        if right.mean() < at_parent.mean():  # see the module's last paragraph
            broken = _anchor_rules(domain, right, at_anchor, tolerance=tolerance, alpha=anchor_alpha)
            (forgetting if domain == SOURCE_DOMAIN else reasons).extend(broken)
        if before is not None and domain != SOURCE_DOMAIN:
            reasons.extend(_significance(domain, right, at_parent, "before this label", alpha))
        reasons.extend(class_collapses(domain, y, anchor[domain], candidate[domain], parent=before, alpha=alpha))
    return Verdict(
        passed=not (reasons or forgetting),
        reasons=tuple(forgetting + reasons),
        metrics=metrics,
        forgetting_only=bool(forgetting) and not reasons,
    )


def _changes(right: np.ndarray, before: np.ndarray) -> tuple[int, int]:
    """Images the candidate now gets wrong that ``before`` got right, and the other way round."""
    return int(np.sum(before & ~right)), int(np.sum(right & ~before))


def _anchor_rules(
    domain: str, right: np.ndarray, at_anchor: np.ndarray, *, tolerance: float, alpha: float
) -> list[str]:
    """The source domain's forgetting bound, or a target domain's paired test, against the anchor."""
    if domain != SOURCE_DOMAIN:
        return _significance(domain, right, at_anchor, "at the anchor", alpha)
    lost = float(at_anchor.mean() - right.mean())
    if lost <= tolerance + 1e-9:
        return []
    return [
        f"{domain} accuracy {right.mean():.3f} vs {at_anchor.mean():.3f} at the anchor: "
        f"{100 * lost:.1f} points lost, over the {100 * tolerance:.1f}-point forgetting bound"
    ]


def _significance(domain: str, right: np.ndarray, before: np.ndarray, against: str, alpha: float) -> list[str]:
    """A reason when the candidate is significantly worse than the head that got ``before`` right."""
    worse, better = _changes(right, before)
    p = exact_mcnemar(worse, better)
    if p >= alpha:
        return []
    return [
        f"{domain} accuracy {right.mean():.2f} vs {before.mean():.2f} {against}, paired test p = {p:.2g} "
        f"({worse} images now wrong, {better} now right)"
    ]


def class_collapses(
    domain: str,
    y: np.ndarray,
    anchor: np.ndarray,
    candidate: np.ndarray,
    *,
    parent: np.ndarray | None = None,
    alpha: float = ALPHA,
) -> list[str]:
    """One reason per class whose recall on ``domain`` collapsed from the anchor's and, given ``parent``'s
    answers, by this update's doing: significantly worse than the parent on that class's images.

    Without the second rule a line whose class had drifted below half (between consolidations, or
    by hand) refused every label that cost that class one more image: on a fixed FER2013 sample of
    ~140 images a class, most labels do, and the line stopped learning.
    """
    reasons = []
    for cls in np.unique(y):
        rows = y == cls
        count = int(rows.sum())
        if count < CLASS_MIN_IMAGES:
            continue
        was, now = float(np.mean(anchor[rows] == cls)), float(np.mean(candidate[rows] == cls))
        collapsed = (
            now < was / 2 and was - now >= CLASS_MIN_DROP - 1e-9 and round((was - now) * count) >= CLASS_MIN_LOST
        )
        if not collapsed:
            continue
        if parent is not None and exact_mcnemar(*_changes(candidate[rows] == cls, parent[rows] == cls)) >= alpha:
            continue
        reasons.append(f"class '{LABELS[int(cls)]}' recall on {domain} fell to {now:.2f} from {was:.2f}")
    return reasons
