"""A consolidation refit: a fresh head on every label plus the replay pool, in seconds."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mlcore.consolidation import SOURCE_SHARE, refit_head, sampling_weights, source_share_for
from mlcore.online import head_probabilities
from mlcore.reference import ReferenceData
from tests.mlcore.test_learner import blobs


def source_pool(n_per_class: int = 30) -> ReferenceData:
    """A FER2013-like replay pool: seven clusters, far from where the labeled photos lie."""
    x, y = blobs(n_per_class, seed=3)
    val_x, val_y = blobs(5, seed=4)
    return ReferenceData(
        val_x={"fer": val_x}, val_y={"fer": val_y}, replay_x=x, replay_y=y, replay_domain=np.array(["fer"] * len(y))
    )


def test_a_refit_head_learns_the_labels_and_keeps_the_source_domain():
    pool = source_pool()
    labeled_x, labeled_y = blobs(3, seed=5)
    labeled_x = labeled_x + 6.0  # the infant domain: shifted away from the pool
    started = time.monotonic()

    head = refit_head(labeled_x, labeled_y, reference=pool, seed=0)

    assert time.monotonic() - started < 10.0
    fresh_x, fresh_y = blobs(4, seed=6)
    assert (head_probabilities(head, fresh_x + 6.0).argmax(axis=1) == fresh_y).mean() >= 0.9
    assert (head_probabilities(head, pool.val_x["fer"]).argmax(axis=1) == pool.val_y["fer"]).mean() >= 0.9


def test_a_refit_without_reference_data_fits_the_labels_alone():
    labeled_x, labeled_y = blobs(4, seed=7)

    head = refit_head(labeled_x, labeled_y, reference=None, seed=1, epochs=20)

    assert (head.predict(labeled_x) == labeled_y).mean() >= 0.9
    assert len(head.loss_curve_) <= 20


def test_a_trained_models_refit_leaves_the_source_rows_out_as_its_head_did():
    labeled_x, labeled_y = blobs(4, seed=9)
    contrary = ReferenceData(  # source rows where the labels lie, every one called the next class
        val_x={},
        val_y={},
        replay_x=labeled_x.copy(),
        replay_y=(labeled_y + 1) % 7,
        replay_domain=np.array(["fer"] * len(labeled_y)),
    )
    assert source_share_for("retrain") == 0.0 and source_share_for("bootstrap") == SOURCE_SHARE

    without = refit_head(labeled_x, labeled_y, reference=contrary, seed=0, source_share=0.0)
    with_source = refit_head(labeled_x, labeled_y, reference=contrary, seed=0, source_share=SOURCE_SHARE)

    assert (without.predict(labeled_x) == labeled_y).mean() >= 0.9
    assert (with_source.predict(labeled_x) == labeled_y).mean() < 0.9  # half the draws said otherwise


def test_a_refit_is_reproducible_from_its_seed():
    labeled_x, labeled_y = blobs(2, seed=8)
    first = refit_head(labeled_x, labeled_y, reference=source_pool(5), seed=3, epochs=5)
    second = refit_head(labeled_x, labeled_y, reference=source_pool(5), seed=3, epochs=5)

    assert np.array_equal(first.predict_proba(labeled_x), second.predict_proba(labeled_x))


def test_a_few_labels_get_half_the_draws_next_to_a_large_source_pool():
    labels = np.array([0, 1] + [0, 1, 2, 3] * 100)
    domains = np.array(["infant"] * 2 + ["fer"] * 400)

    weights = sampling_weights(labels, domains)

    assert weights[:2].sum() == pytest.approx(0.5)
    assert weights[2:].sum() == pytest.approx(0.5)


def test_nothing_to_refit_is_refused():
    with pytest.raises(ValueError, match="nothing to fit"):
        refit_head(np.empty((0, 64), dtype=np.float32), np.empty(0, dtype=np.int64), reference=None)
