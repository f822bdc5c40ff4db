"""verify's judgement, on findings alone."""

from __future__ import annotations

from agent.nodes.verify import Observation, at_deadline, judge


def f(kind, name, severity="critical"):
    return {
        "kind": kind,
        "target": f"Deployment/ns/{name}",
        "severity": severity,
        "summary": kind,
        "data": {"deployment": name},
    }


BEFORE = [f("high_error_rate", "predictor"), f("recent_rollout", "predictor", "info")]


def test_fixed_needs_the_symptoms_gone_and_the_alert_clear():
    assert (
        judge(BEFORE, Observation([f("recent_rollout", "predictor", "info")], alert_active=False))[0]
        == "fixed"
    )
    assert judge(BEFORE, Observation([], alert_active=True)) is None  # keep watching
    assert judge(BEFORE, Observation(BEFORE, alert_active=False)) is None


def test_a_new_critical_symptom_is_worse():
    outcome, detail = judge(BEFORE, Observation([f("crash_loop", "predictor")], alert_active=None))
    assert outcome == "worse" and "crash_loop" in detail


def test_at_the_deadline_a_lagging_alert_does_not_hide_a_fix():
    outcome, detail = at_deadline(BEFORE, Observation([], alert_active=True), ["predictor"], 300)
    assert outcome == "fixed" and "should clear on its own" in detail
    outcome, detail = at_deadline(BEFORE, Observation(BEFORE, alert_active=True), ["predictor"], 300)
    assert outcome == "no_effect" and "high_error_rate" in detail
    outcome, _ = at_deadline([], Observation([], alert_active=True), ["predictor"], 300)
    assert outcome == "no_effect"


def test_a_neighbours_noise_does_not_block_the_verdict():
    noisy = [*BEFORE, f("connection_errors", "ingest-worker", "warning")]
    after = [f("connection_errors", "ingest-worker", "warning")]
    outcome, _ = at_deadline(noisy, Observation(after, alert_active=False), ["predictor"], 300)
    assert outcome == "fixed"
