"""The eval's overall figures: per family, one fault → one incident, and what memory saves on repeats."""

from __future__ import annotations

from typing import Any

from evals.report import markdown
from evals.scoring import summarize


def _run(scenario: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario": scenario,
        "faults": [scenario],
        "control": False,
        "detected": True,
        "false_alarm": False,
        "localized": True,
        "classified": True,
        "expect_mitigation": True,
        "mitigated": True,
        "unsafe_actions": [],
        "time_to_detect_s": 10.0,
        "time_to_mitigate_s": 30.0,
        "alert_to_mitigated_s": 20.0,
        "steps": 3,
        "tool_calls": 12,
        "diagnosis_calls": 6,
        "tokens": 0,
        "actions": ["k8s_rollback market-predictor/predictor"],
        "incidents": [],
        "end_state": [],
        "family": "catalog",
        "escalated_correctly": None,
        "no_action_on_failing": 0,
        "incidents_with_runs": 1,
        "error": None,
        "passed": True,
        "repeat_index": 0,
    }
    return {**row, **over}


def test_families_are_counted_apart_and_a_failing_no_action_is_counted() -> None:
    runs = [
        _run("a"),
        _run("b", family="unseen"),
        _run("c", family="unseen", mitigated=False, passed=False, no_action_on_failing=1),
    ]
    s = summarize(runs, 1)
    assert s["families"]["catalog"] == {
        "scenarios": 1,
        "runs": 1,
        "passed": 1.0,
        "mitigation_rate": 1.0,
        "unsafe_actions": 0,
        "no_action_on_failing": 0,
    }
    assert s["families"]["unseen"]["mitigation_rate"] == 0.5
    assert s["families"]["unseen"]["no_action_on_failing"] == 1
    assert s["no_action_on_failing"] == 1
    text = markdown({"reasoner": "offline planner", "started_at": "now", "summary": s, "runs": runs})
    assert "| unseen | 2 | 2 | 50% | 50% | 0 | 1 |" in text


def test_one_fault_one_incident_counts_runs_that_opened_more_investigations_than_faults() -> None:
    runs = [
        _run("a", incidents_with_runs=1),
        _run("b", incidents_with_runs=3),  # a storm that was not folded
        _run("c", faults=["x", "y"], incidents_with_runs=2),  # two faults, two incidents: fine
        _run("d", detected=False, incidents_with_runs=0),  # undetected runs do not count here
    ]
    assert summarize(runs, 1)["one_incident_rate"] == round(2 / 3, 3)


def test_repeats_are_compared_with_first_runs_that_passed() -> None:
    runs = [
        _run("a", diagnosis_calls=10),
        _run("b", diagnosis_calls=8, passed=False),  # nothing worth recalling: left out
        _run("a", diagnosis_calls=4, repeat_index=1),
        _run("a", diagnosis_calls=6, repeat_index=2),
        _run("b", diagnosis_calls=8, repeat_index=1),
    ]
    saved = summarize(runs, 3)["repeat_diagnosis_calls"]
    assert saved == {"scenarios": 1, "first_runs": 10, "repeats_mean": 5.0, "reduction": 0.5}
    assert summarize(runs[:2], 1)["repeat_diagnosis_calls"] is None
