"""The offline queue-order replay's pure pieces: what each strategy picks, and the pooled summary."""

from __future__ import annotations

import numpy as np
import pytest

from bench.queue_order import pick, summary
from mlcore.online import fit_head, new_head
from tests.mlcore.test_learner import blobs


@pytest.fixture(scope="module")
def head():  # type: ignore[no-untyped-def]
    x, y = blobs(20, seed=0)
    return fit_head(new_head(seed=0), x, y, epochs=30, batch_size=32, seed=0)


def pool() -> np.ndarray:
    """Two copies of one ambiguous photo (midway between two classes), then clear photos of every class."""
    centres, _ = blobs(1, seed=0, spread=0.0)
    ambiguous = (centres[0] + centres[1]) / 2
    clear, _ = blobs(2, seed=5, spread=0.3)
    return np.vstack([ambiguous, ambiguous + 1e-3, clear]).astype(np.float32)


def test_entropy_asks_the_ambiguous_photo_first_and_coverage_skips_its_twin(head):
    rng = np.random.default_rng(0)
    by_entropy = pick("entropy", head, pool(), [], size=2, rng=rng)
    by_coverage = pick("entropy_coverage", head, pool(), [], size=2, rng=rng)

    assert sorted(by_entropy) == [0, 1]  # the two most uncertain are the twins
    assert by_coverage[0] in (0, 1) and by_coverage[1] not in (0, 1)  # its twin adds nothing new


def test_every_strategy_picks_only_unlabeled_photos_once(head):
    for name in ("random", "entropy", "entropy_coverage", "entropy_density"):
        picked = pick(name, head, pool(), [0, 3], size=5, rng=np.random.default_rng(1))
        assert len(set(picked)) == 5 and not {0, 3} & set(picked), name


def test_the_summary_pools_seeds_of_different_pool_sizes_and_pairs_with_random():
    def run(after: list[bool], size: int) -> dict:  # type: ignore[type-arg]
        return {"correct": {0: np.array([False, False]), 100: np.array(after), size: np.array(after)}}

    results = {
        "random": [run([False, True], 262), run([False, False], 264)],
        "entropy": [run([True, True], 262), run([True, True], 264)],
    }
    found = summary(results)

    assert found["random"]["accuracy"] == {"0": 0.0, "100": 0.25, "all": 0.25}
    assert found["entropy"]["vs_random_at_100"][0] == pytest.approx(0.75)
    assert found["entropy"]["vs_random_at_all"][0] == pytest.approx(0.75)
