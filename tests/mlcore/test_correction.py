"""The online update's refit: the anchor's output layer corrected on labels under a prior centred on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from mlcore import correction
from mlcore.online import CLASSES, fit_head, head_probabilities, new_head


def separable(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seven well-separated clusters of 64-d embeddings."""
    rng = np.random.default_rng(seed)
    centres = np.eye(7, 64, dtype=np.float32) * 4.0
    y = np.repeat(np.arange(7), n_per_class)
    return (centres[y] + rng.normal(scale=0.3, size=(len(y), 64))).astype(np.float32), y


@pytest.fixture(scope="module")
def anchor():  # type: ignore[no-untyped-def]
    x, y = separable(20, seed=0)
    return fit_head(new_head(seed=0), x, y, epochs=20)


def test_without_labels_the_anchor_is_served_unchanged(anchor):
    fitted = correction.corrected(anchor, np.empty((0, 64)), np.empty(0, dtype=np.int64))
    assert fitted.labels == 0 and fitted.shift == 0.0
    assert all(np.array_equal(a, b) for a, b in zip(fitted.head.coefs_, anchor.coefs_, strict=True))
    assert fitted.head is not anchor


def test_only_the_output_layer_moves_and_the_head_keeps_its_shape(anchor):
    x, y = separable(2, seed=1)
    fitted = correction.corrected(anchor, x, (y + 1) % 7)
    assert np.array_equal(fitted.head.coefs_[0], anchor.coefs_[0])
    assert np.array_equal(fitted.head.intercepts_[0], anchor.intercepts_[0])
    assert not np.array_equal(fitted.head.coefs_[-1], anchor.coefs_[-1])
    assert fitted.head.classes_.tolist() == CLASSES.tolist()
    assert head_probabilities(fitted.head, x).shape == (len(x), 7)


def test_a_refit_from_the_anchor_holds_nothing_of_a_label_left_out(anchor):
    # What unlearning relies on: the refit on the remaining labels is the same head whatever was learned before.
    x, y = separable(3, seed=2)
    kept = np.arange(len(y)) != 5
    with_it = correction.corrected(anchor, x, y).head
    without = correction.corrected(anchor, x[kept], y[kept]).head
    again = correction.corrected(anchor, x[kept], y[kept]).head
    assert np.array_equal(without.coefs_[-1], again.coefs_[-1])
    assert not np.allclose(with_it.coefs_[-1], without.coefs_[-1])


def test_the_refit_reaches_the_minimum_of_its_objective(anchor):
    # At the optimum the gradient of the penalised loss vanishes: checked independently of the solver.
    x, y = separable(4, seed=3)
    y = (y + 3) % 7  # labels that disagree with the anchor, so the optimum is far from it
    fitted = correction.corrected(anchor, x, y, strength=2.0)
    h = correction.hidden(anchor, x)
    w0, b0 = anchor.coefs_[-1], anchor.intercepts_[-1]

    def loss(theta: np.ndarray) -> float:
        w, b = theta[: w0.size].reshape(w0.shape), theta[w0.size :]
        z = h @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(y)), y].sum() + np.sum((w - w0) ** 2) + np.sum((b - b0) ** 2))

    def gradient(theta: np.ndarray) -> np.ndarray:
        step = 1e-5
        return np.array([(loss(theta + step * e) - loss(theta - step * e)) / (2 * step) for e in np.eye(len(theta))])

    theta = np.concatenate([fitted.head.coefs_[-1].ravel(), fitted.head.intercepts_[-1]])
    assert np.linalg.norm(gradient(theta)) < 1e-2 * max(1.0, np.linalg.norm(theta))
    assert check_grad(loss, gradient, theta) < 1e-3


def test_a_firmer_prior_keeps_the_head_closer_to_the_anchor(anchor):
    x, y = separable(4, seed=4)
    y = (y + 1) % 7
    loose, firm = correction.corrected(anchor, x, y, strength=0.5), correction.corrected(anchor, x, y, strength=50.0)
    assert firm.shift < loose.shift
    assert (head_probabilities(loose.head, x).argmax(axis=1) == y).mean() > (
        head_probabilities(firm.head, x).argmax(axis=1) == y
    ).mean()


def test_nonsense_is_refused(anchor):
    x, y = separable(1, seed=5)
    with pytest.raises(ValueError, match="strength"):
        correction.corrected(anchor, x, y, strength=0.0)
    with pytest.raises(ValueError, match="class indices"):
        correction.corrected(anchor, x, y + 7)
