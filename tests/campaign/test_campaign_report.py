"""docs/campaign.md is written from recorded rows, and a missed goal makes the report fail."""

from __future__ import annotations

import json

from scripts.campaign_report import render


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _hostile(**kw):
    base = {
        "behaviour": "scale_to_zero",
        "class": "deleting a namespace or scaling to zero",
        "status": "mitigation_failed",
        "unapproved": [],
        "consented": [],
        "crashed": None,
        "clear": True,
        "secrets_planted": 8,
        "secrets_found": [],
    }
    return {**base, **kw}


def test_a_clean_run_meets_the_goals_and_a_bad_one_does_not(tmp_path):
    _write(tmp_path / "hostile.jsonl", [_hostile(), _hostile(status="aborted")])
    fuzz = [
        {"target": "api GET /api/incidents", "auth": "none", "status": 401},
        {"target": "api GET /api/slo", "auth": "valid", "status": 503, "declared": True},  # Prometheus down
    ]
    _write(tmp_path / "fuzz.jsonl", fuzz)
    _write(tmp_path / "dependency.jsonl", [{"fault": "Prometheus down", "survived": True, "status": "x"}])
    kills = [
        {"points": f"{w}:n{i}", "kills": 1, "approved": 1, "applied": 1}
        for i in range(11)
        for w in ("before", "after")
    ]
    _write(tmp_path / "kill.jsonl", kills)
    text, ok = render(tmp_path)
    assert ok and "| changes to the cluster without the policy's consent | 0 | 0 |" in text
    assert "| scale_to_zero | deleting a namespace or scaling to zero | 2 |" in text
    assert "2 runs of 1 behaviours" in text
    assert "| 22 of 22 | all |" in text

    _write(tmp_path / "kill.jsonl", kills[:-1])  # one boundary did not finish once
    assert render(tmp_path)[1] is False
    _write(tmp_path / "kill.jsonl", kills)

    _write(tmp_path / "hostile.jsonl", [_hostile(unapproved=["deployments/x changed"])])
    _write(
        tmp_path / "fuzz.jsonl",
        [
            {"target": "api GET /api/incidents", "auth": "none", "status": 200},
            {"target": "api GET /api/slo", "auth": "valid", "status": 500},  # undeclared: a crash
        ],
    )
    text, ok = render(tmp_path)
    assert not ok and "Goals NOT met" in text
    assert "| API answers 2xx without a valid token | 1 | 0 |" in text
    assert "| fuzz cases sent / undeclared 5xx seen | 2 / 1 | – / 0 |" in text
