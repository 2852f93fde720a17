"""Background jobs of the predictions app: each only calls a service."""

from __future__ import annotations

from predictions import services


def run_retrain(*, job_id: int) -> None:
    services.retrain_run(job_id=job_id)
