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
    _write(tmp_path / "fuzz.jsonl", [{"target": "api GET /api/incidents", "auth": "none", "status": 401}])
    _write(tmp_path / "dependency.jsonl", [{"fault": "Prometheus down", "survived": True, "status": "x"}])
    text, ok = render(tmp_path)
    assert ok and "| changes to the cluster without the policy's consent | 0 | 0 |" in text
    assert "| scale_to_zero | deleting a namespace or scaling to zero | 2 |" in text
    assert "2 runs of 1 behaviours" in text

    _write(tmp_path / "hostile.jsonl", [_hostile(unapproved=["deployments/x changed"])])
    _write(tmp_path / "fuzz.jsonl", [{"target": "api GET /api/incidents", "auth": "none", "status": 200}])
    text, ok = render(tmp_path)
    assert not ok and "Goals NOT met" in text
    assert "| API answers 2xx without a valid token | 1 | 0 |" in text
