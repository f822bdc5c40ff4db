"""The evaluation harness: scenarios run on a reset sandbox through the real alert path.

fault injected through the Kubernetes API → the sandbox's real Prometheus fires → its real
Alertmanager posts to the agent's webhook (`serve`'s Service, in this process) → investigation →
action (approvals answered by the scenario's scripted approver) → verification → the end state is
judged by the fault's ground truth, never by what the agent says about itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from kubernetes import config as kube_config

from agent.approvals import ApprovalDecision, ApprovalError
from agent.audit import AuditLog
from agent.runner import Runner
from agent.server.app import Service, create_app
from agent.settings import Settings
from evals.scenario import Scenario
from sandbox import faults as fault_catalog
from sandbox import lifecycle
from sandbox.control import ControlClient

Progress = Callable[[str], None]

EVAL_POLICY = """\
# Written by the eval harness. Changes in market-predictor wait for the scenario's scripted approver.
default_autonomy: approve
clusters:
  - context: "*"
    namespaces:
      - {match: market-predictor, autonomy: approve}
      - {match: "*", autonomy: observe}
guardrails:
  cooldown_s: 20              # scenarios repeat the same fix on the same target minutes apart
  max_actions_per_hour: 200
"""


@dataclass
class EvalEnv:
    settings: Settings
    sandbox: lifecycle.SandboxState
    service: Service
    server: uvicorn.Server
    api: Any
    control: ControlClient
    audit: AuditLog
    progress: Progress = print

    def close(self) -> None:
        self.server.should_exit = True
        self.service.stop()


def _free_port() -> int:
    return lifecycle.free_port()


def open_env(
    out_dir: Path,
    sandbox_dir: Path,
    *,
    overrides: dict[str, Any] | None = None,
    progress: Progress = print,
) -> EvalEnv:
    """Start (or restart) the sandbox with its webhook pointed at an in-process agent server."""
    port = _free_port()
    webhook = f"http://127.0.0.1:{port}/webhook/alertmanager"
    existing = lifecycle.SandboxState.load(sandbox_dir)
    if existing is not None and existing.alert_webhook != webhook:
        progress("restarting the sandbox so Alertmanager posts to this run's agent")
        lifecycle.down(sandbox_dir)
    state = lifecycle.up(sandbox_dir, alert_webhook=webhook, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = out_dir / "policy.yaml"
    policy.write_text(EVAL_POLICY)
    values: dict[str, Any] = {
        "data_dir": out_dir / "agent-data",
        "kubeconfig": Path(state.kubeconfig),
        "prometheus_url": state.prometheus_url,
        "loki_url": state.loki_url,
        "alertmanager_url": state.alertmanager_url,
        "default_namespace": "market-predictor",
        "policy_file": policy,
        "max_concurrent_investigations": 2,
        **(overrides or {}),
    }
    settings = Settings(**values)
    service = Service(settings, Runner(settings))
    service.start()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, name="eval-agent-server", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the agent's webhook server did not start within 30 s")
        time.sleep(0.05)
    api = kube_config.new_client_from_config(config_file=state.kubeconfig)
    return EvalEnv(
        settings,
        state,
        service,
        server,
        api,
        ControlClient(state.control_url),
        AuditLog(settings.path("audit.sqlite")),
        progress,
    )


def firing_alerts(prometheus_url: str) -> list[dict[str, Any]]:
    try:
        r = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=5)
        alerts = r.json()["data"]["alerts"]
    except Exception:
        return []
    return [a for a in alerts if a.get("state") == "firing"]


def reset_world(env: EvalEnv, timeout_s: float = 180) -> None:
    """Seeded objects, no surge, no active fault, and no alert firing any more."""
    env.control.reset()
    env.control.clear_faults()
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if firing_alerts(env.sandbox.prometheus_url):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 8:
            return
        time.sleep(2)
    env.progress("warning: alerts still firing after the reset; the next scenario starts anyway")


@dataclass
class Observation:
    """What happened during one scenario run (raw facts; scoring judges them)."""

    scenario: str
    started_at: float
    faults: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)
    detected_at: float | None = None
    mitigated_at: float | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class ScriptedApprover:
    """Answers the scenario's approval requests the way the scenario says."""

    def __init__(self, env: EvalEnv, mode: str, incident_ids: Callable[[], set[str]]) -> None:
        self.env, self.mode, self.incident_ids = env, mode, incident_ids
        self.answered: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scripted-approver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            if self.mode == "never":
                continue
            mine = self.incident_ids()
            for req in self.env.service.approvals.list(status="pending"):
                if req.incident_id not in mine:
                    continue
                reject = self.mode == "reject_first" and not any(
                    a["decision"] == "reject" for a in self.answered
                )
                decision = ApprovalDecision(
                    approval_id=req.id,
                    decision="reject" if reject else "approve",
                    approver="eval:scripted",
                    reason="scripted approver: reject the first proposal" if reject else "scripted approver",
                )
                self.answered.append(
                    {"id": req.id, "tool": req.tool, "args": req.args, "decision": decision.decision}
                )
                try:
                    self.env.service.resume(req.id, decision)
                except ApprovalError:
                    pass
                except Exception as exc:  # recorded, the scenario goes on
                    self.env.progress(f"  approver: resuming {req.id} failed: {exc}")


def _created(inc: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(inc["created_at"])).timestamp()


def run_scenario(env: EvalEnv, sc: Scenario) -> Observation:
    reset_world(env)
    before = {i["id"] for i in env.service.queue.incidents(limit=10000)}
    obs = Observation(scenario=sc.name, started_at=time.time())
    specs = [fault_catalog.get_fault(f.fault, f.target) for f in sc.faults if f.fault != "none"]
    for spec in specs:
        fault_catalog.inject(env.api, spec, env.control)
        obs.faults.append(spec.ground_truth())

    def new_ids() -> set[str]:
        return {i["id"] for i in env.service.queue.incidents(limit=10000) if i["id"] not in before}

    approver = ScriptedApprover(env, sc.approver, new_ids)
    approver.start()
    limit = sc.quiet_s if sc.is_control else sc.timeout_s
    deadline = obs.started_at + limit
    try:
        while time.time() < deadline:
            ids = new_ids()
            if ids and obs.detected_at is None:
                obs.detected_at = min(
                    _created(i) for i in env.service.queue.incidents(limit=10000) if i["id"] in ids
                )
                env.progress(f"  detected after {obs.detected_at - obs.started_at:.0f} s")
            applied = [r for r in env.audit.rows(kind="action_applied") if r.incident_id in ids]
            if specs and applied and obs.mitigated_at is None:
                results = [s.check_end_state(env.api, env.sandbox.prometheus_url) for s in specs]
                if all(ok for ok, _ in results):
                    obs.mitigated_at = time.time()
                    env.progress(f"  mitigated after {obs.mitigated_at - obs.started_at:.0f} s")
            if obs.mitigated_at is not None and _settled(env, ids):
                break
            time.sleep(3)
    finally:
        approver.stop()
    ids = new_ids()
    obs.approvals = approver.answered
    obs.incidents = [i for i in env.service.queue.incidents(limit=10000) if i["id"] in ids]
    obs.audit = [r.model_dump() for iid in sorted(ids) for r in env.audit.rows(incident_id=iid)]
    obs.checks = [s.check_end_state(env.api, env.sandbox.prometheus_url) for s in specs]
    return obs


def _settled(env: EvalEnv, ids: set[str]) -> bool:
    """Every incident of the scenario has finished its investigation (or waits for a human)."""
    incidents = [i for i in env.service.queue.incidents(limit=10000) if i["id"] in ids]
    return all(i["status"] not in ("queued", "investigating") for i in incidents)
