"""The head refit behind unlearning: from the anchor's reference data and the remaining labels, nothing else."""

from __future__ import annotations

import numpy as np

from mlcore.online import fit_head, head_probabilities, new_head
from mlcore.reference import ReferenceData
from mlcore.unlearning import refit_head


def separable(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seven well-separated clusters of 64-d embeddings."""
    rng = np.random.default_rng(seed)
    centres = np.eye(7, 64, dtype=np.float32) * 4.0
    y = np.repeat(np.arange(7), n_per_class)
    return (centres[y] + rng.normal(scale=0.3, size=(len(y), 64))).astype(np.float32), y


def reference() -> ReferenceData:
    x, y = separable(20, seed=0)
    val_x, val_y = separable(5, seed=1)
    return ReferenceData(
        val_x={"infant": val_x},
        val_y={"infant": val_y},
        replay_x=x,
        replay_y=y,
        replay_domain=np.full(len(y), "infant"),
    )


def test_with_reference_data_the_head_is_fitted_anew_whatever_the_live_line_learned():
    ref = reference()
    anchor = new_head(seed=0)
    fit_head(anchor, ref.replay_x, ref.replay_y, epochs=2)
    # A head that learned a "deleted" label over and over: the refit must not start from it.
    spoiled = fit_head(new_head(seed=0), ref.replay_x, np.full(len(ref.replay_y), 3), epochs=2)

    refitted = refit_head(anchor, reference=ref, labels_x=None, labels_y=None, seed=5)
    again = refit_head(spoiled, reference=ref, labels_x=None, labels_y=None, seed=5)

    predicted = head_probabilities(refitted, ref.val_x["infant"]).argmax(axis=1)
    assert (predicted == ref.val_y["infant"]).mean() > 0.9
    assert np.allclose(
        head_probabilities(refitted, ref.val_x["infant"]), head_probabilities(again, ref.val_x["infant"])
    )
    assert len(refitted.loss_curve_) <= 20


def test_without_reference_data_the_anchor_head_is_tuned_on_the_remaining_labels_only():
    x, y = separable(3, seed=2)
    anchor = fit_head(new_head(seed=0), x, y, epochs=2)

    untouched = refit_head(anchor, reference=None, labels_x=None, labels_y=None, seed=0)
    tuned = refit_head(anchor, reference=None, labels_x=x[:3], labels_y=y[:3], seed=0)

    assert untouched is not anchor
    assert np.allclose(head_probabilities(untouched, x), head_probabilities(anchor, x))
    assert not np.allclose(head_probabilities(tuned, x), head_probabilities(anchor, x))
