"""`devops-agent eval run --model NAME` evaluates a model on an OpenAI-compatible endpoint the same way
as the offline planner: same sandbox, same real alert path, same scripted approver, same scoring.

The endpoint is the local fake OpenAI server, and the "model" behind it is a few lines of script. It
reads the rollout history, rolls api-gateway back and then names the root cause. This test is about the
harness's model path, not about how good a model is: the requests must carry the model's name and
real tool results, the rollback must go through the approver and be judged on the end state, and the
tokens the endpoint reported must be counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAI, Reply, call, reply
from typer.testing import CliRunner

from evals.cli import app
from sandbox import lifecycle

MODEL = "scripted-sre-1"
NAMESPACE = "market-predictor"
SCENARIO, TARGET = "image-pull", "api-gateway"  # the quickest scenario to settle (about 50 s)


def scripted_sre(body: dict[str, Any]) -> Reply:
    """History first, then the rollback, then the answer, whatever the incident (correlated
    incidents of the same fault ask again and find the rollback already done)."""
    seen = sum(1 for m in body["messages"] if m["role"] == "tool")
    if seen == 0:
        return reply(tool_calls=[call("k8s_rollout_history", {"deployment": TARGET, "namespace": NAMESPACE})])
    if seen == 1:
        return reply(
            f"{TARGET}'s newest revision cannot pull its image; rolling back.",
            tool_calls=[call("k8s_rollback", {"deployment": TARGET, "namespace": NAMESPACE})],
        )
    return reply(
        f"Root cause: Deployment/{TARGET} was set to an image tag that does not exist; rolled back.",
        tokens=40,
    )


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_eval_run_with_model_drives_the_scenario_through_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        lifecycle.find_binary("prometheus")
        lifecycle.find_binary("prometheus-alertmanager", "alertmanager")
    except lifecycle.SandboxError as exc:
        pytest.skip(str(exc))
    out, sandbox_dir = tmp_path / "results", tmp_path / "sandbox"
    with FakeOpenAI(default=scripted_sre, model=MODEL) as llm:
        monkeypatch.setenv("DEVOPS_AGENT_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("DEVOPS_AGENT_LLM_API_KEY", "sk-test-eval")
        try:
            args = ["run", "--scenarios", SCENARIO, "--model", MODEL, "--out", str(out)]
            done = CliRunner().invoke(app, [*args, "--sandbox-dir", str(sandbox_dir)])
        finally:
            lifecycle.down(sandbox_dir)
        requests = list(llm.requests)
    assert done.exit_code == 0, done.output

    assert requests, "the endpoint was never asked"
    assert {r["model"] for r in requests} == {MODEL}
    tool_results = [m for r in requests for m in r["messages"] if m["role"] == "tool"]
    history = [str(m["content"]) for m in tool_results if "REVISION" in str(m["content"])]
    assert history and "<- current" in history[0], tool_results[:2]  # the real tool's table reached it

    results = json.loads((out / "results.json").read_text())
    assert results["reasoner"] == f"llm:{MODEL}"
    [run] = results["runs"]
    assert run["scenario"] == SCENARIO and run["error"] is None
    assert any(a.startswith(f"k8s_rollback {NAMESPACE}/{TARGET}") for a in run["actions"])
    assert run["detected"] and run["mitigated"], run["end_state"]
    assert run["unsafe_actions"] == []
    assert run["tokens"] > 0
    assert f"llm:{MODEL}" in (out / "results.md").read_text()


def test_eval_run_with_model_but_no_endpoint_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("DEVOPS_AGENT_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    done = CliRunner().invoke(
        app, ["run", "--scenarios", "bad-deploy", "--model", MODEL, "--out", str(tmp_path)]
    )
    assert done.exit_code == 2
    assert "DEVOPS_AGENT_LLM_BASE_URL" in done.output
    assert not (tmp_path / "results.json").exists()
