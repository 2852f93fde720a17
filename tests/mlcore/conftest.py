"""Tiny domains shared by the learner's and the guard's tests: seven separated clusters and a head fitted on them."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.online import fit_head, new_head
from mlcore.reference import ReferenceData
from tests.mlcore.test_learner import blobs


@pytest.fixture(scope="module")
def reference() -> ReferenceData:
    fer_x, fer_y = blobs(20, seed=1)
    infant_x, infant_y = blobs(10, seed=2)
    pool_x, pool_y = blobs(30, seed=3)
    return ReferenceData(
        val_x={"fer": fer_x, "infant": infant_x},
        val_y={"fer": fer_y, "infant": infant_y},
        replay_x=pool_x,
        replay_y=pool_y,
        replay_domain=np.array(["fer"] * len(pool_y)),
    )


@pytest.fixture(scope="module")
def trained(reference: ReferenceData):  # type: ignore[no-untyped-def]
    return fit_head(new_head(seed=0), reference.replay_x, reference.replay_y, epochs=30)
