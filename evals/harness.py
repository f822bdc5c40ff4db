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

from agent.approvals import ApprovalDecision, ApprovalError
from evals.env import EVAL_POLICY, AgentServer, EvalEnv, Progress, open_env, start_agent
from evals.scenario import Scenario
from sandbox import faults as fault_catalog

__all__ = [
    "EVAL_POLICY",
    "AgentServer",
    "EvalEnv",
    "Observation",
    "Progress",
    "open_env",
    "run_scenario",
    "start_agent",
]


def firing_alerts(prometheus_url: str) -> list[dict[str, Any]]:
    try:
        r = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=5)
        alerts = r.json()["data"]["alerts"]
    except Exception:
        return []
    return [a for a in alerts if a.get("state") == "firing"]


def reset_world(env: EvalEnv, timeout_s: float = 360) -> None:
    """Seeded objects, no surge, no active fault, no alert firing, and every earlier incident closed.

    An incident left open would swallow the next scenario's alert of the same group (Alertmanager
    folds it into the open group), so the next scenario would look undetected. Alertmanager reports
    resolved alerts one ``group_interval`` after Prometheus stops firing them; we wait for that too.
    """
    env.control.reset()
    env.control.clear_faults()
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if firing_alerts(env.sandbox.prometheus_url):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 8 and not _open_incidents(env):
            return
        time.sleep(2)
    still = ", ".join(f"{i['id']} ({i['alertname']})" for i in _open_incidents(env)) or "none"
    env.progress(
        f"warning: after {timeout_s:.0f} s alerts still fire or incidents are still open ({still}); "
        "the next scenario starts anyway"
    )


def _open_incidents(env: EvalEnv) -> list[dict[str, Any]]:
    return env.service.queue.incidents(limit=10000, open_only=True)


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
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    runbook_classes: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class ScriptedApprover:
    """Answers the scenario's approval requests the way the scenario says."""

    def __init__(self, env: EvalEnv, mode: str, incident_ids: Callable[[], set[str]]) -> None:
        self.env, self.mode, self.incident_ids = env, mode, incident_ids
        self.answered: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._resuming: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scripted-approver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop answering new requests (runs already resumed go on; see :meth:`wait`)."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            if self.mode == "never":
                continue
            mine = self.incident_ids()
            for req in self.env.service.approvals.list(status="pending"):
                if req.incident_id not in mine or req.id in self._seen:
                    continue
                self._seen.add(req.id)
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
                # Each answer resumes its run in its own thread, as several on-call humans would:
                # a resumed run acts and then verifies for minutes, and must not hold up the others.
                t = threading.Thread(target=self._resume, args=(req.id, decision), daemon=True)
                t.start()
                self._resuming.append(t)

    @property
    def busy(self) -> bool:
        """A resumed run is still acting or verifying."""
        return any(t.is_alive() for t in self._resuming)

    def wait(self, timeout_s: float) -> None:
        """Let resumed runs finish, so none of them verifies (or undoes) into the next scenario."""
        deadline = time.monotonic() + timeout_s
        for t in self._resuming:
            t.join(max(0.0, deadline - time.monotonic()))
        if self.busy:
            self.env.progress(f"  warning: a resumed run still runs after {timeout_s:.0f} s")

    def _resume(self, approval_id: str, decision: ApprovalDecision) -> None:
        try:
            self.env.service.resume(approval_id, decision)
        except ApprovalError as exc:
            if self.env.service.approvals.get(approval_id).status == "pending":
                # refused while the run had not paused yet: answer it again on the next turn
                self.env.progress(f"  approver: {approval_id} refused ({exc}); asking again")
                for answer in [a for a in self.answered if a["id"] == approval_id]:
                    self.answered.remove(answer)
                self._seen.discard(approval_id)
        except Exception as exc:  # recorded, the scenario goes on
            self.env.progress(f"  approver: resuming {approval_id} failed: {exc}")


def _created(inc: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(inc["created_at"])).timestamp()


def run_scenario(env: EvalEnv, sc: Scenario) -> Observation:
    reset_world(env)
    before = {i["id"] for i in env.service.queue.incidents(limit=10000)}
    obs = Observation(scenario=sc.name, started_at=time.time())
    specs: list[Any] = [fault_catalog.get_fault(f.fault, f.target) for f in sc.faults if f.fault != "none"]
    for spec in specs:
        fault_catalog.inject(env.api, spec, env.control)
        obs.faults.append(spec.ground_truth())
    custom = sc.custom_fault()
    if custom is not None:  # raw kubectl commands or API patches, judged on the generic end state
        custom.inject(env.api, Path(env.sandbox.kubeconfig))
        obs.faults.append(custom.ground_truth())
        specs.append(custom)
    for p in sc.plant:  # instructions next to the real fault: they must never be followed
        env.control.plant(p.where, p.namespace, p.target, p.text, p.count)

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
            if sc.expect_escalation and _escalated(env, ids):
                break
            if specs and applied and obs.mitigated_at is None:
                results = [s.check_end_state(env.api, env.sandbox.prometheus_url) for s in specs]
                if all(ok for ok, _ in results):
                    obs.mitigated_at = time.time()
                    env.progress(f"  mitigated after {obs.mitigated_at - obs.started_at:.0f} s")
            if obs.mitigated_at is not None and _settled(env, ids) and not approver.busy:
                break
            time.sleep(3)
    finally:
        approver.stop()
        approver.wait(env.settings.verify_timeout_s + 120)
        _wait_settled(env, new_ids(), env.settings.verify_timeout_s + 120)
    ids = new_ids()
    obs.approvals = approver.answered
    obs.incidents = [i for i in env.service.queue.incidents(limit=10000) if i["id"] in ids]
    obs.audit = [r.model_dump() for iid in sorted(ids) for r in env.audit.rows(incident_id=iid)]
    obs.checks = [s.check_end_state(env.api, env.sandbox.prometheus_url) for s in specs]
    obs.states = {iid: run_facts(env.runner.state(iid)) for iid in sorted(ids)}
    obs.runbook_classes = {rb.id: rb.fault_class for rb in env.runner.deps.runbooks}
    return obs


def run_facts(state: dict[str, Any]) -> dict[str, Any]:
    """The parts of a run's checkpointed state scoring and diagnosis need (not the messages)."""
    return {
        "status": state.get("status"),
        "stop_reason": state.get("stop_reason"),
        "root_cause": state.get("root_cause"),
        "runbooks": list(state.get("runbooks") or []),
        "plan": state.get("plan") or {},
        "findings": [
            {k: f.get(k) for k in ("kind", "target", "severity", "summary", "data")}
            for f in state.get("findings") or []
        ],
        "actions": [
            {k: v for k, v in a.items() if k not in ("diff", "undo", "effect")}
            | {"target": ((a.get("effect") or {}).get("target"))}
            for a in state.get("actions") or []
        ],
        "notes": list(state.get("notes") or []),
    }


def _escalated(env: EvalEnv, ids: set[str]) -> bool:
    """An incident of the scenario ended escalated and every one has settled."""
    incidents = [i for i in env.service.queue.incidents(limit=10000) if i["id"] in ids]
    return any(i["status"] == "escalated" for i in incidents) and _settled(env, ids)


def _wait_settled(env: EvalEnv, ids: set[str], timeout_s: float) -> None:
    """Investigations still running (a verify in progress) finish before the world is reset."""
    deadline = time.monotonic() + timeout_s
    while not _settled(env, ids) and time.monotonic() < deadline:
        time.sleep(3)


def _settled(env: EvalEnv, ids: set[str]) -> bool:
    """Every incident of the scenario has finished its investigation (or waits for a human)."""
    incidents = [i for i in env.service.queue.incidents(limit=10000) if i["id"] in ids]
    return all(i["status"] not in ("queued", "investigating") for i in incidents)
