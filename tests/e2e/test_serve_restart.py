"""`serve` killed (SIGKILL) in the middle of an investigation resumes after a restart, and the action
it already executed is not executed again.

A real `devops-agent serve` process receives the session sandbox's Alertmanager notifications; the
policy lets the rollback run alone, so the run goes alert → rollback → verify without a human. The
moment the audit log shows the rollback applied, the process is killed; a new `serve` on the same
data dir picks the work up from the durable queue and the run continues from its checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.serve_proc import Serve, free_port
from sandbox_fixture import Sandbox

from agent.audit import AuditLog
from evals.harness import firing_alerts
from sandbox.faults.checks import pod_images

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

TOKEN = "restart-test-token"
POLICY = """\
clusters:
  - context: "*"
    namespaces: [{match: market-predictor, autonomy: auto}]
guardrails: {cooldown_s: 0, max_actions_per_hour: 100}
"""


@pytest.fixture
def serve(sandbox: Sandbox, tmp_path: Path) -> Iterator[Serve]:
    sandbox.reset()
    sandbox.wait_until(lambda: not firing_alerts(sandbox.prometheus_url), 240, "earlier alerts to resolve", 3)
    (tmp_path / "policy.yaml").write_text(POLICY)
    env = {
        **os.environ,
        **sandbox.env(),
        "DEVOPS_AGENT_DATA_DIR": str(tmp_path / "data"),
        "DEVOPS_AGENT_POLICY_FILE": str(tmp_path / "policy.yaml"),
        "DEVOPS_AGENT_API_TOKEN": TOKEN,
        "DEVOPS_AGENT_VERIFY_TIMEOUT_S": "150",
        "DEVOPS_AGENT_VERIFY_INTERVAL_S": "5",
        "DEVOPS_AGENT_FOLLOW_UP_DELAY_S": "5",
    }
    env.pop("DEVOPS_AGENT_LLM_BASE_URL", None)
    env.pop("OPENAI_BASE_URL", None)
    s = Serve(env, free_port(), tmp_path / "serve.log")
    s.start()
    stop_forwarding = sandbox.forward_alerts_to(f"{s.url}/webhook/alertmanager")
    yield s
    stop_forwarding()
    s.kill()
    sandbox.reset()


def test_killed_serve_resumes_without_repeating_the_action(
    sandbox: Sandbox, serve: Serve, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "data" / "audit.sqlite")
    fault = sandbox.inject("bad-deploy", "predictor")
    applied = sandbox.wait_until(
        lambda: audit.rows(kind="action_applied") or None, 240, "the rollback to be applied", 0.2
    )
    serve.kill()  # mid-investigation: the rollback is applied, verify has not finished
    incident = applied[0].incident_id
    assert incident is not None
    killed_at = len(audit.rows(incident_id=incident))

    serve.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def finished() -> dict[str, object] | None:
        inc = httpx.get(f"{serve.url}/api/incidents/{incident}", headers=headers, timeout=5).json()
        return (
            inc
            if inc.get("status") in ("resolved", "mitigation_failed", "no_action_needed", "aborted", "closed")
            else None
        )

    inc = sandbox.wait_until(finished, 300, "the resumed investigation to finish", 2)
    rows = audit.rows(incident_id=incident)
    assert len(rows) > killed_at, "the restarted serve did not continue the investigation"
    assert [r.data.get("tool") for r in rows if r.kind == "action_applied"] == ["k8s_rollback"]
    assert (inc.get("outcome") or {}).get("status") == "resolved", inc
    assert sandbox.wait_end_state(fault, timeout=120)
    images = pod_images(sandbox.api_client(), "market-predictor", "predictor")
    assert all("1.5.0" not in image for image in images.values()), images
