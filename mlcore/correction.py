"""The online update: the anchor head's output layer corrected on every label, a convex refit in milliseconds.

An online line used to take ``partial_fit`` steps on a copy of the live head, one label at a time. On a model
trained on every dev photo that drifted: each step passed its own test, their sum did harm, and the forgetting
bound then refused half the labels; the line's state depended on the order and pace labels came in
(``bench/ONLINE_UPDATE.md``).

So an update keeps the anchor's head (the offline-trained version the line descends from) and learns only a
correction of its last layer: the hidden layer stays the anchor's, and the output weights ``W, b`` minimise

    sum_i cross-entropy(softmax(h_i W + b), y_i)                                 over every usable label
    + strength / |K| · sum_k cross-entropy(softmax(h_k W + b), p_anchor(k))      over the kept rows K

The second term is the anchor's knowledge as a prior in function space: its own answers on the replay pool
that travels with the extractor (its infant training photos and FER2013 rows), worth ``strength`` labels in
all. A prior on the weights themselves (a ridge towards the anchor's) was tried first: the hidden activations
are large, so a weight step the ridge thinks small moved answers everywhere, and FER2013 fell far past its bound
after a few dozen labels (``bench/ONLINE_UPDATE.md``); answers are what must not move, so answers are what the
prior holds. Without kept rows the ridge is all there is. A few labels move the head a little, many labels move it
more, and nothing but the labels and the anchor decide where it ends. The problem is convex, so the refit is
unique and independent of the order labels came in: the update for one label, for a burst of a hundred, the
consolidation and the unlearning are the same computation, and a label held back now is simply part of the next
refit. The result is an ``MLPClassifier`` of the anchor's shape (the correction folds into its output layer), so
serving, saliency and the registry see no difference.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._base import ACTIVATIONS
from threadpoolctl import threadpool_limits

from mlcore.labels import NUM_CLASSES
from mlcore.online import LOSS_CURVE_KEPT

STRENGTH = 300.0  # labels' worth of the anchor's answers on the kept rows (without them: the ridge's precision)
RIDGE = 1.0  # beside kept rows: the weights' own prior, so no direction the kept rows leave free runs away
MAX_ITERATIONS = 200


@dataclass(frozen=True)
class Correction:
    """A corrected head and how its refit went."""

    head: MLPClassifier
    labels: int  # rows the correction was fitted on
    iterations: int
    shift: float  # ‖W − W_anchor‖ + ‖b − b_anchor‖: how far the labels moved the output layer


def hidden(head: MLPClassifier, x: np.ndarray) -> np.ndarray:
    """The input of ``head``'s output layer for each row of ``x`` (its last hidden layer's activations)."""
    activation = np.asarray(x, dtype=np.float64)
    for weights, bias in zip(head.coefs_[:-1], head.intercepts_[:-1], strict=True):
        activation = activation @ weights + bias
        ACTIVATIONS[head.activation](activation)  # in place, as sklearn applies it
    return activation


def corrected(
    anchor: MLPClassifier,
    x: np.ndarray,
    y: np.ndarray,
    *,
    strength: float = STRENGTH,
    sample_weight: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    ridge: float = RIDGE,
    start: MLPClassifier | None = None,
) -> Correction:
    """``anchor`` with its output layer refitted on ``x``/``y`` (class indices) under the prior above, holding its
    answers on ``keep`` (or, without, its weights); ``anchor`` itself is never changed. No labels: the anchor's own
    weights. ``start``, a correction of the same anchor (the parent), is where the solver begins: the problem is
    convex, so only the time to reach its one minimum changes."""
    if strength <= 0:
        raise ValueError("the prior's strength must be positive: without it a few labels decide the whole layer")
    if anchor.out_activation_ != "softmax":
        raise ValueError("a correction needs a head with one softmax output per class")
    head = copy.deepcopy(anchor)
    head.loss_curve_ = list(head.loss_curve_[-LOSS_CURVE_KEPT:])
    y = np.asarray(y, dtype=np.int64)
    if not len(y):
        return Correction(head=head, labels=0, iterations=0, shift=0.0)
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise ValueError(f"labels must be class indices 0..{NUM_CLASSES - 1}")
    features = hidden(anchor, x)
    columns = anchor.classes_.astype(int)  # the output layer's columns, in the head's class order
    index = {cls: column for column, cls in enumerate(columns)}
    known = np.isin(y, columns)  # a head that never saw a class cannot learn it in its last layer alone
    features, y = features[known], y[known]
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[known]
    targets = np.zeros((len(y), len(columns)))
    targets[np.arange(len(y)), [index[int(label)] for label in y]] = 1.0
    w0, b0 = anchor.coefs_[-1].astype(np.float64), anchor.intercepts_[-1].astype(np.float64)
    shape = w0.shape
    if keep is None or not len(keep):
        ridge = strength
    else:
        kept = hidden(anchor, keep)
        soft = _softmax(kept @ w0 + b0)
        features = np.concatenate([features, kept])
        targets = np.concatenate([targets, soft])
        weights = np.concatenate([weights, np.full(len(kept), strength / len(kept))])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: w0.size].reshape(shape), theta[w0.size :]
        logits = features @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -float(np.sum(weights * np.sum(targets * log_p, axis=1)))
        residual = (np.exp(log_p) - targets) * weights[:, None]
        dw, db = w - w0, b - b0
        loss += 0.5 * ridge * float(np.sum(dw * dw) + np.sum(db * db))
        gradient_w = features.T @ residual + ridge * dw
        gradient = np.concatenate([gradient_w.ravel(), residual.sum(axis=0) + ridge * db])
        return loss, gradient

    begin = start if start is not None and _same_hidden(start, anchor) else anchor
    theta = np.concatenate([begin.coefs_[-1].astype(np.float64).ravel(), begin.intercepts_[-1].astype(np.float64)])
    # One BLAS thread: numpy's and scipy's BLAS each start a pool per core, and on two cores their waiting
    # threads held the cores the solver needed; the refit took 2.5 times as long (bench/ONLINE_UPDATE.md).
    with threadpool_limits(limits=1, user_api="blas"):
        found = minimize(objective, theta, jac=True, method="L-BFGS-B", options={"maxiter": MAX_ITERATIONS})
    w, b = found.x[: w0.size].reshape(shape), found.x[w0.size :]
    head.coefs_[-1] = w.astype(anchor.coefs_[-1].dtype)
    head.intercepts_[-1] = b.astype(anchor.intercepts_[-1].dtype)
    shift = float(np.linalg.norm(w - w0) + np.linalg.norm(b - b0))
    return Correction(head=head, labels=len(y), iterations=int(found.nit), shift=shift)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _same_hidden(head: MLPClassifier, anchor: MLPClassifier) -> bool:
    """Whether ``head`` is a correction of ``anchor``: the same layers up to the output one."""
    layers = zip(head.coefs_[:-1], anchor.coefs_[:-1], strict=False)
    return len(head.coefs_) == len(anchor.coefs_) and all(np.array_equal(a, b) for a, b in layers)
