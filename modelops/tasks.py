"""Background jobs of model operations: each only calls a service."""

from __future__ import annotations

from modelops.services import retrain


def run_retrain(*, job_id: int) -> None:
    retrain.retrain_run(job_id=job_id)
