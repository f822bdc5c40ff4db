"""Slack message text from the runner's real event and outcome shapes (agent/slack/blocks.py)."""

from __future__ import annotations

from agent.slack.blocks import answer_text, event_line, progress_text

# What triage's tool_finished event carries: a heading over the ranked findings.
TRIAGE_SUMMARY = (
    "2 findings in market-predictor (service predictor first)\n"
    "[warning] readiness_failing Deployment/market-predictor/predictor: 1 running pods not ready\n"
    "    evidence: pods predictor-6dc789d65f-vtn6s: Running, ready=false"
)
FINDINGS = [
    {
        "kind": "readiness_failing",
        "target": "Deployment/market-predictor/predictor",
        "summary": "1 running pods not ready",
        "severity": "warning",
    },
    {
        "kind": "recent_rollout",
        "target": "Deployment/market-predictor/predictor",
        "summary": "rolled out: revision 2 -> 3 (image: predictor:1.4.0 -> predictor:1.5.0)",
        "severity": "warning",
    },
]


def test_a_multi_line_tool_summary_is_one_status_line() -> None:
    line = event_line({"type": "tool_finished", "tool": "triage", "status": "ok", "summary": TRIAGE_SUMMARY})
    assert line == "  ↳ ok: 2 findings in market-predictor (service predictor first)"
    text = progress_text([line] * 12)
    assert len(text.splitlines()) == 13  # the heading and one line per event: the limit holds


def test_verify_shows_its_outcome_and_detail() -> None:
    event = {
        "type": "verify",
        "tool": "k8s_rollback",
        "outcome": "no_effect",
        "detail": "still firing: readiness_failing\n(checked 1 time)",
    }
    assert event_line(event) == "• verify: no_effect — still firing: readiness_failing"


def test_an_answer_awaiting_approval_names_the_findings_behind_it() -> None:
    text = answer_text(
        {
            "status": "awaiting_approval",
            "root_cause": None,
            "summary": "waiting for approval apr-1: k8s_rollback {'deployment': 'predictor'}",
            "findings": FINDINGS,
        }
    )
    assert text.startswith(":raised_hand: *awaiting_approval*\nwaiting for approval apr-1")
    assert "*Findings:*" in text
    assert "• [warning] readiness_failing `Deployment/market-predictor/predictor`: 1 running pods" in text
    assert "predictor:1.4.0 -> predictor:1.5.0" in text


def test_a_finished_answer_gives_the_root_cause_not_the_findings() -> None:
    text = answer_text(
        {
            "status": "resolved",
            "root_cause": "predictor 1.5.0 fails its readiness probe",
            "summary": "rolled back predictor to revision 2",
            "findings": FINDINGS,
        }
    )
    assert text == (
        ":white_check_mark: *resolved*\n*Root cause:* predictor 1.5.0 fails its readiness probe\n"
        "rolled back predictor to revision 2"
    )
