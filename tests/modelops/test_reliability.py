"""Calibration you can see: each version's reliability bins travel with it and the dashboard draws them."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore import retrain_guard
from mlcore.learner import evaluate
from mlcore.metrics import expected_calibration_error, reliability_bins, reliability_from_metrics, reliability_metrics
from mlcore.reference import ReferenceData
from tests.conftest import tiny_head

pytestmark = pytest.mark.django_db


def answers() -> tuple[np.ndarray, np.ndarray]:
    """Three answers at 95 % confidence (two right) and one at 35 % (wrong)."""
    sure, unsure = [0.95] + [0.05 / 6] * 6, [0.3, 0.35] + [0.07] * 5
    return np.array([sure, sure, sure, unsure]), np.array([0, 0, 3, 0])


def bin_metrics(prefix: str = "infant") -> dict[str, float]:
    return reliability_metrics(reliability_bins(*answers()), prefix)


def test_bins_count_the_answers_at_each_confidence_and_how_many_were_right():
    bins = reliability_bins(*answers())

    assert len(bins) == 10 and sum(b.count for b in bins) == 4
    assert (bins[9].count, bins[9].confidence, bins[9].accuracy) == (3, pytest.approx(0.95), pytest.approx(2 / 3))
    assert (bins[3].count, bins[3].accuracy) == (1, 0.0)
    assert bins[5].count == 0 and bins[5].accuracy is None
    assert expected_calibration_error(*answers()) == pytest.approx(0.75 * (0.95 - 2 / 3) + 0.25 * 0.35)


def test_a_versions_metrics_give_its_bins_back():
    assert reliability_from_metrics(bin_metrics(), "infant") == reliability_bins(*answers())
    assert reliability_from_metrics({"infant_accuracy": 0.5}, "infant") is None


def test_the_forgetting_guard_reads_no_bin_as_an_accuracy():
    baseline = {"infant_accuracy": 0.5, **bin_metrics()}
    worse_bins = {"infant_accuracy": 0.5, **{key: 0.0 for key in bin_metrics()}}

    passed, reason = retrain_guard.judge(worse_bins, baseline, tolerance=0.02)
    assert passed, reason


def test_a_version_learned_online_records_its_bins_and_ece():
    rng = np.random.default_rng(0)
    reference = ReferenceData(
        val_x={"infant": rng.normal(size=(20, 64))},
        val_y={"infant": np.arange(20) % 7},
        replay_x=np.zeros((0, 64)),
        replay_y=np.zeros(0, dtype=np.int64),
        replay_domain=np.zeros(0, dtype=str),
    )

    metrics = evaluate(tiny_head(), reference)

    bins = reliability_from_metrics(metrics, "infant")
    assert bins is not None and sum(b.count for b in bins) == 20
    assert 0.0 <= metrics["infant_ece"] <= 1.0


@pytest.fixture
def calibrated(fake_backend) -> str:  # type: ignore[no-untyped-def]
    """A live version with reliability bins; the version before it has none."""
    version = fake_backend.add_version(kind="retrain", infant_ece=0.123, infant_macro_f1=0.456, **bin_metrics())
    fake_backend.set_live(version, by="tests")
    return version


def test_the_dashboard_draws_the_live_versions_reliability_with_its_numbers(client, staff, calibrated):
    page = client.get("/dashboard/").content.decode()

    assert f"Calibration of version {calibrated}" in page
    assert f'data-testid="reliability-{calibrated}"' in page
    assert page.count('<rect class="bin"') == 2  # the two bins that hold answers
    assert f'aria-label="Reliability diagram of version {calibrated} on Infant validation photos"' in page
    table = page.split(f'data-testid="reliability-table-{calibrated}"')[1].split("</table>")[0]
    assert table.count('<th scope="row">') == 10 and "0.95" in table and "0.67" in table
    assert "0.123" in page and "0.456" in page  # ECE and F1 beside it


def test_a_version_without_bins_says_so_when_chosen(client, staff, calibrated):
    page = client.get("/dashboard/?calibration=1").content.decode()

    assert "Calibration of version 1" in page
    assert 'data-testid="no-reliability"' in page and "stored no reliability bins" in page
    assert '<rect class="bin"' not in page


def test_the_version_page_draws_the_diagram_beside_the_domains_scores(client, staff, calibrated):
    page = client.get(f"/dashboard/versions/{calibrated}/").content.decode()

    assert f'data-testid="reliability-{calibrated}"' in page  # infant
    assert "stored no reliability bins for FER2013 photos" in page
