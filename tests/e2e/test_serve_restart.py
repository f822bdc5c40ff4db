"""`serve` killed (SIGKILL) in the middle of an investigation resumes after a restart, and the action
it already executed is not executed again.

A real `devops-agent serve` process receives the session sandbox's Alertmanager notifications; the
policy lets the rollback run alone, so the run goes alert → rollback → verify without a human. The
moment the audit log shows the rollback applied, the process is killed; a new `serve` on the same
data dir picks the work up from the durable queue and the run continues from its checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sandbox_fixture import Sandbox

from agent.audit import AuditLog
from evals.harness import firing_alerts
from sandbox.faults.checks import pod_images

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

TOKEN = "restart-test-token"
ROOT = Path(__file__).resolve().parents[2]
POLICY = """\
clusters:
  - context: "*"
    namespaces: [{match: market-predictor, autonomy: auto}]
guardrails: {cooldown_s: 0, max_actions_per_hour: 100}
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"serve did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


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
    s = Serve(env, _free_port(), tmp_path / "serve.log")
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
