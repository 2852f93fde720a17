"""The whole run's progress a banner shows: monotone across stages, with the time left once it can be told."""

from __future__ import annotations

from mlcore.progress import OverallProgress, ProgressEvent


def test_overall_progress_never_goes_back_when_a_new_stage_starts():
    seen: list[ProgressEvent] = []
    overall = OverallProgress(seen.append, {"faces": 1.0, "fer": 6.0, "infant": 3.0})
    for stage, steps in (("faces", 4), ("fer", 10), ("infant", 5)):
        for step in range(1, steps + 1):
            overall(ProgressEvent(stage=stage, step=step, total=steps))

    fractions = [e.metrics["overall_fraction"] for e in seen]
    assert fractions == sorted(fractions)
    assert fractions[3] == 0.1 and fractions[-1] == 1.0  # faces done: its tenth of the run
    assert seen[-1].metrics["overall_eta_seconds"] == 0.0


def test_a_resumed_run_starts_where_it_stopped_and_events_of_other_stages_pass_unchanged():
    seen: list[ProgressEvent] = []
    overall = OverallProgress(seen.append, {"fer": 1.0, "infant": 1.0})
    overall(ProgressEvent(stage="infant", step=1, total=2))
    overall(ProgressEvent(stage="tune", step=1, total=2))

    assert seen[0].metrics["overall_fraction"] == 0.75
    assert "overall_eta_seconds" not in seen[0].metrics  # nothing done in this session yet: no estimate
    assert seen[1].metrics == {}
