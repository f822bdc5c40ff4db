"""The core CLI as a user runs it: real processes, the Kubernetes API stand-in, the offline planner."""

from __future__ import annotations

import json
import subprocess

import pytest
from fakes.agent_env import NAMESPACE, agent_env, cli

pytestmark = pytest.mark.timeout(180)

ALERT = {
    "version": "4",
    "status": "firing",
    "receiver": "devops-agent",
    "groupLabels": {"alertname": "ServiceHighErrorRate"},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ServiceHighErrorRate",
                "namespace": NAMESPACE,
                "service": "predictor",
                "severity": "critical",
            },
            "annotations": {"summary": "predictor answers 35% 5xx"},
            "startsAt": "2026-11-26T20:00:00Z",
            "generatorURL": "http://prometheus/graph?g0.expr=up",
            "fingerprint": "f00d",
        }
    ],
}


@pytest.fixture
def env(tmp_path, cluster, llm):
    _, kubeconfig = cluster
    e = agent_env(tmp_path, kubeconfig, llm)
    e["DEVOPS_AGENT_REASONER"] = "planner"
    return e


def run(env, *args, stdin: str | None = None):
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=120, input=stdin)


def test_alert_investigation_prints_the_json_contract(env, tmp_path):
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(ALERT))
    res = run(env, "investigate", "--alert", str(path), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert {"incident_id", "status", "root_cause", "actions", "approvals"} <= set(out)
    assert out["status"] in ("resolved", "awaiting_approval", "mitigation_failed", "no_action_needed")
    assert out["service"] == "predictor" and out["namespace"] == NAMESPACE
    assert out["reasoner"] == "planner"

    listed = run(env, "incidents", "list", "--json")
    assert [i["id"] for i in json.loads(listed.stdout)] == [out["incident_id"]]
    shown = run(env, "incidents", "show", out["incident_id"])
    assert shown.returncode == 0 and "ServiceHighErrorRate" in shown.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"alerts": []}', "has no alerts"),
        ('{"hello": 1}', "not an alert"),
    ],
)
def test_bad_alert_files_are_friendly_errors(env, tmp_path, content, message):
    path = tmp_path / "alert.json"
    path.write_text(content)
    res = run(env, "investigate", "--alert", str(path))
    assert res.returncode == 1
    assert message in res.stderr and "Traceback" not in res.stderr


def test_unknown_incident_is_a_friendly_error(env):
    res = run(env, "incidents", "show", "inc-nope")
    assert res.returncode == 1
    assert "no incident 'inc-nope'" in res.stderr and "Traceback" not in res.stderr


def test_chat_answers_and_handles_commands(env):
    res = run(env, "chat", stdin="/help\nwhat is wrong with the predictor?\n/incidents\n/approvals\n/quit\n")
    assert res.returncode == 0, res.stderr
    assert "commands:" in res.stdout and "/approvals" in res.stdout
    assert "triage" in res.stdout  # tool calls are shown as they happen
    assert "chat-" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr


def test_config_show_masks_secrets(env):
    env = {**env, "DEVOPS_AGENT_LLM_API_KEY": "sk-do-not-print-me"}
    res = run(env, "config", "show", "--json")
    shown = json.loads(res.stdout)
    assert shown["llm_api_key"] == "********" and "sk-do-not-print-me" not in res.stdout
    assert shown["reasoner (effective)"] == "planner"


def test_doctor_names_what_is_broken_and_how_to_fix_it(env):
    res = run(env, "doctor")
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert any(line.startswith("OK") and "Kubernetes" in line for line in lines)
    assert any(line.startswith("FAIL") and "Prometheus" in line for line in lines)
    assert "fix: start it, or point DEVOPS_AGENT_PROMETHEUS_URL" in res.stdout
    assert any(
        line.startswith("OK") and "LLM" in line and "offline runbook planner" in line for line in lines
    )
