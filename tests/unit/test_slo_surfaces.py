"""The SLO surfaces: the sandbox's rule file in step with its specs, `slo status` and GET /api/slo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.observability import FakeBackend, vector
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.cli import _register, app
from agent.server.app import create_app
from agent.server.service import Service
from agent.settings import Settings
from tools.slo.rules import rule_groups
from tools.slo.spec import load_slo_dir

REPO = Path(__file__).parents[2]
TOKEN = "t0ken"
ROWS = [
    (
        {
            "__name__": "slo:objective:ratio",
            "sloth_id": "predictor-avail",
            "sloth_service": "predictor",
            "sloth_slo": "avail",
        },
        0.995,
    ),
    (
        {
            "__name__": "slo:time_period:days",
            "sloth_id": "predictor-avail",
            "sloth_service": "predictor",
            "sloth_slo": "avail",
        },
        30,
    ),
    (
        {
            "__name__": "slo:sli_error:ratio_rate1h",
            "sloth_id": "predictor-avail",
            "sloth_service": "predictor",
            "sloth_slo": "avail",
            "namespace": "prod",
            "sloth_window": "1h",
        },
        0.01,
    ),
    (
        {
            "__name__": "slo:period_error_budget_remaining:ratio",
            "sloth_id": "predictor-avail",
            "sloth_service": "predictor",
            "sloth_slo": "avail",
            "namespace": "prod",
        },
        0.5,
    ),
]


def test_sandbox_rule_file_is_generated_from_the_sandbox_specs() -> None:
    """sandbox/prom/rules/slo.yml (copied into the sandbox's Prometheus) matches the specs; regenerate
    with the command in its header when a spec changes."""
    committed = yaml.safe_load((REPO / "sandbox" / "prom" / "rules" / "slo.yml").read_text())["groups"]
    assert committed == rule_groups(load_slo_dir(REPO / "sandbox" / "slos"), "30s", alerts=False)
    names = {g["name"] for g in committed}
    assert "sloth-slo-meta-recordings-predictor-requests-availability" in names
    assert not [r for g in committed for r in g["rules"] if "alert" in r]


@pytest.fixture
def prom() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        backend.route("/api/v1/query", vector(ROWS))
        yield backend


def test_slo_status_json_and_table(
    prom: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVOPS_AGENT_PROMETHEUS_URL", prom.url)
    monkeypatch.setenv("DEVOPS_AGENT_DATA_DIR", str(tmp_path))
    _register()
    runner = CliRunner()
    out = runner.invoke(app, ["slo", "status", "--json"])
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.output)["slos"]
    assert row["burn_rates"]["1h"] == pytest.approx(2.0) and row["hours_to_exhaustion"] == pytest.approx(180)
    table = runner.invoke(app, ["slo", "status"])
    assert table.exit_code == 0 and "predictor" in table.output and "7.5d" in table.output
    missing = runner.invoke(app, ["slo", "status", "--service", "cache"])
    assert missing.exit_code == 1 and "no SLO series" in missing.output


def test_api_serves_the_same_status_behind_the_token(prom: FakeBackend, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, prometheus_url=prom.url)  # type: ignore[arg-type]
    client = TestClient(create_app(Service(settings, runner=_NoRunner())))
    assert client.get("/api/slo").status_code == 401
    got = client.get("/api/slo", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 200
    assert [r["slo_id"] for r in got.json()["slos"]] == ["predictor-avail"]


def test_api_says_why_when_prometheus_is_down(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, prometheus_url="http://127.0.0.1:1")  # type: ignore[arg-type]
    client = TestClient(create_app(Service(settings, runner=_NoRunner())))
    got = client.get("/api/slo", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 503 and "cannot reach Prometheus" in got.json()["detail"]


class _NoRunner:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the SLO endpoint must not start runs ({name})")
