"""A scripted week of activity, written through the real stores (``AuditLog``, ``SqliteJournal``) with
fixed times, for the report golden tests and docs/reports.md.

Monday 2026-11-23 to Monday 2026-11-30 (UTC): a hand edit of a ConfigMap crash-loops the predictor
and an approved revert fixes it; a scale-up is rejected; an auto restart in staging; a rollback
approved during the Black Friday freeze; a hand edit of a Service and of a Deployment's literal
password during the freeze; a scale-up that made things worse and was undone; an apply the API
refused; an approval that expired. One row before the week shows the period is respected.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.approvals import ApprovalRequest
from agent.audit import AuditLog
from agent.policy import Policy
from tools.base import Target, Undo
from tools.journal import Change, SqliteJournal, field_diff, normalize

SINCE = datetime(2026, 11, 23, tzinfo=UTC)
UNTIL = datetime(2026, 11, 30, tzinfo=UTC)
NS = "market-predictor"
STAGING = "market-predictor-staging"
HAND_PASSWORD = "s3cr3t-Hunter2-literal"  # a literal env value a human typed; never in a report
POLICY = Policy.model_validate(
    {
        "guardrails": {
            "approvers": ["alice", "bob", "carol"],
            "freeze_windows": [
                {
                    "start": "2026-11-26T18:00:00Z",
                    "end": "2026-11-28T06:00:00Z",
                    "reason": "Black Friday freeze",
                }
            ],
        }
    }
)


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=UTC)


class Week:
    """The stores, and small verbs that write what the graph's nodes write."""

    def __init__(self, root: Path) -> None:
        self.audit = AuditLog(root / "audit.sqlite")
        self.journal = SqliteJournal(root / "journal.sqlite")
        self.heads: dict[tuple[str, str], dict[str, Any]] = {}

    # --- audit rows, shaped like agent/nodes/*.py writes them ------------------------------
    def start(self, iid: str, when: datetime, title: str, alert: str, ns: str, service: str) -> None:
        data = {"source": "alertmanager", "title": title, "alertname": alert, "namespace": ns}
        self.audit.append(
            "run_started",
            incident_id=iid,
            at=when,
            data={
                **data,
                "service": service,
                "severity": "critical",
                "reasoner": "planner",
                "question": title,
            },
        )

    def read(self, iid: str, when: datetime, tool: str, args: dict[str, Any], summary: str) -> None:
        data = {"tool": tool, "args": args, "status": "ok", "purpose": "read", "dry_run": False}
        self.audit.append("tool_call", incident_id=iid, at=when, data={**data, "summary": summary})

    def decide(
        self, iid: str, when: datetime, tool: str, args: dict[str, Any], decision: str, reason: str
    ) -> None:
        autonomy = "auto" if decision == "allow" else "approve"
        self.audit.append(
            "decision",
            incident_id=iid,
            at=when,
            data={"tool": tool, "args": args, "decision": decision, "reasons": [], "autonomy": autonomy,
                  "risk": "write", "approved_by": None, "reason": reason},
        )  # fmt: skip

    def request(self, iid: str, when: datetime, apr: str, tool: str, args: dict[str, Any], target: Target,
                reason: str, undo: Undo | None = None) -> None:  # fmt: skip
        req = ApprovalRequest(
            id=apr, incident_id=iid, tool=tool, args=args, target=target, risk="write", reason=reason,
            diff="", undo=undo, requested_at=when, expires_at=when + timedelta(hours=1),
        )  # fmt: skip
        self.audit.append("approval_requested", incident_id=iid, at=when, data=req.model_dump(mode="json"))

    def answer(self, iid: str, when: datetime, apr: str, who: str, decision: str, tool: str, reason: str | None = None) -> None:  # fmt: skip
        data = {"approval_id": apr, "decision": decision, "reason": reason, "edited_args": None, "tool": tool}
        self.audit.append("approval_decided", incident_id=iid, at=when, actor=who, data=data)

    def apply(self, iid: str, when: datetime, tool: str, args: dict[str, Any], target: Target, diff: str,
              actor: str, apr: str | None = None, undo: Undo | None = None) -> None:  # fmt: skip
        effect = {"target": target.model_dump(mode="json"), "diff": diff, "changed": True,
                  "undo": undo.model_dump(mode="json") if undo else None}  # fmt: skip
        self.audit.append(
            "action_applied",
            incident_id=iid,
            at=when,
            actor=actor,
            idempotency_key=apr or f"act-{iid}",
            data={"tool": tool, "args": args, "target_ref": f"/{target.kind}/{target.namespace}/{target.name}",
                  "effect": effect, "approval_id": apr, "result": "applied"},
        )  # fmt: skip

    def verify(self, iid: str, when: datetime, tool: str, outcome: str, detail: str) -> None:
        data = {"tool": tool, "args": {}, "outcome": outcome, "detail": detail}
        self.audit.append("verify", incident_id=iid, at=when, data=data)

    def finish(self, iid: str, when: datetime, status: str, root_cause: str) -> None:
        self.audit.append(
            "run_finished", incident_id=iid, at=when, data={"status": status, "root_cause": root_cause}
        )

    # --- journal versions, diffed and normalized like the watcher does ----------------------
    def seed(self, obj: dict[str, Any]) -> None:
        self.heads[(obj["kind"], obj["metadata"]["name"])] = normalize(obj)

    def edit(self, when: datetime, kind: str, name: str, actor: str, change: Any) -> None:
        before = self.heads[(kind, name)]
        raw = copy.deepcopy(before)
        change(raw)
        after = normalize(raw, kind)
        self.heads[(kind, name)] = after
        self.journal.append(
            Change(kind=kind, namespace=raw["metadata"].get("namespace"), name=name, time=when, actor=actor,
                   operation="Update", diff=field_diff(before, after), before=before, after=after),
            managers=[[actor, "Update"]],
        )  # fmt: skip


def _dep(name: str, ns: str, replicas: int, image: str) -> dict[str, Any]:
    container = {"name": name, "image": image, "env": [{"name": "DB_PASSWORD", "value": "from-vault"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [container]}}},
    }


def _seed(w: Week) -> None:
    w.seed({"kind": "ConfigMap", "metadata": {"name": "predictor-config", "namespace": NS},
            "data": {"MAX_BATCH": "64"}})  # fmt: skip
    w.seed({"kind": "Service", "metadata": {"name": "api-gateway", "namespace": NS},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})  # fmt: skip
    w.seed(_dep("predictor", NS, 3, "predictor:1.8.2"))
    w.seed(_dep("feature-store", NS, 2, "feature-store:2.1.0"))
    w.seed(_dep("ingest-worker", STAGING, 2, "ingest-worker:0.9.0"))


def _set(path: list[Any], value: Any) -> Any:
    def change(obj: Any) -> None:
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value

    return change


def script_week(root: Path) -> Week:
    """Write the week into ``root`` (audit.sqlite, journal.sqlite) and return the stores."""
    w = Week(root)
    _seed(w)
    dep = lambda name, ns=NS: Target(kind="Deployment", namespace=ns, name=name)  # noqa: E731
    # Sunday, before the week: not in the report
    w.start("inc-0", at(22, 12, 0), "Disk pressure on node-2", "NodeDiskPressure", NS, "predictor")
    w.finish("inc-0", at(22, 12, 5), "no_action_needed", "")

    # Monday: a hand edit of MAX_BATCH crash-loops the predictor; alice approves the revert
    w.edit(at(23, 9, 0), "ConfigMap", "predictor-config", "kubectl-edit", _set(["data", "MAX_BATCH"], "-1"))
    w.start("inc-1", at(23, 9, 4), "predictor pods crash-looping", "KubePodCrashLooping", NS, "predictor")
    w.read("inc-1", at(23, 9, 5), "k8s_list", {"kind": "pods", "namespace": NS}, "3 pods in CrashLoopBackOff")
    w.read("inc-1", at(23, 9, 5, 30), "k8s_pod_logs", {"pod": "deployment/predictor", "namespace": NS,
           "previous": True}, "invalid MAX_BATCH: -1")  # fmt: skip
    w.read("inc-1", at(23, 9, 6), "recent_changes", {"namespace": NS, "minutes": 60},
           "ConfigMap predictor-config MAX_BATCH 64 -> -1 at 09:00")  # fmt: skip
    cm = Target(kind="ConfigMap", namespace=NS, name="predictor-config")
    args = {"name": "predictor-config", "namespace": NS, "key": "MAX_BATCH", "value": "64"}
    why = "MAX_BATCH changed from 64 to -1 at 09:00, four minutes before the first crash"
    w.decide("inc-1", at(23, 9, 6, 20), "k8s_patch_configmap", args, "needs_approval", why)
    w.request("inc-1", at(23, 9, 6, 21), "apr-0001", "k8s_patch_configmap", args, cm, why)
    w.answer("inc-1", at(23, 9, 9), "apr-0001", "alice", "approve", "k8s_patch_configmap")
    w.apply(
        "inc-1", at(23, 9, 9, 30), "k8s_patch_configmap", args, cm, "MAX_BATCH: -1 -> 64", "alice", "apr-0001"
    )
    w.edit(
        at(23, 9, 9, 29), "ConfigMap", "predictor-config", "devops-agent", _set(["data", "MAX_BATCH"], "64")
    )
    w.verify(
        "inc-1",
        at(23, 9, 12),
        "k8s_patch_configmap",
        "fixed",
        "restarts stopped; KubePodCrashLooping resolved",
    )
    w.finish(
        "inc-1",
        at(23, 9, 12, 30),
        "resolved",
        "a hand edit set MAX_BATCH to -1; the predictor exits at start",
    )

    # Tuesday: bob rejects a scale-up during a planned load test
    w.start("inc-2", at(24, 14, 0), "api-gateway p99 latency above SLO", "HighLatencyP99", NS, "api-gateway")
    scale = {"deployment": "api-gateway", "namespace": NS, "replicas": 6}
    w.decide("inc-2", at(24, 14, 2), "k8s_scale", scale, "needs_approval", "p99 1.8 s at 92% CPU")
    w.request(
        "inc-2", at(24, 14, 2, 1), "apr-0002", "k8s_scale", scale, dep("api-gateway"), "p99 1.8 s at 92% CPU"
    )
    w.answer("inc-2", at(24, 14, 5), "apr-0002", "bob", "reject", "k8s_scale", "planned load test, expected")
    w.finish("inc-2", at(24, 14, 6), "escalated", "")

    # Wednesday: an auto restart in staging (policy auto mode)
    restart = {"deployment": "ingest-worker", "namespace": STAGING}
    w.start("inc-3", at(25, 3, 10), "ingest-worker queue stalled", "QueueStalled", STAGING, "ingest-worker")
    w.decide(
        "inc-3",
        at(25, 3, 11),
        "k8s_rollout_restart",
        restart,
        "allow",
        "consumer stuck, no progress for 10 min",
    )
    w.apply("inc-3", at(25, 3, 11, 5), "k8s_rollout_restart", restart, dep("ingest-worker", STAGING),
            "restartedAt annotation set", "policy:auto")  # fmt: skip
    w.edit(at(25, 3, 11, 4), "Deployment", "ingest-worker", "devops-agent",
           _set(["spec", "template", "metadata"], {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T03:11:04Z"}}))  # fmt: skip
    w.verify("inc-3", at(25, 3, 14), "k8s_rollout_restart", "fixed", "queue depth falling")
    w.finish("inc-3", at(25, 3, 14, 30), "resolved", "the consumer lost its broker connection")

    # Thursday evening, in the freeze: carol approves a rollback
    rb = {"deployment": "predictor", "namespace": NS}
    w.start("inc-4", at(26, 19, 20), "predictor 5xx after deploy", "HighErrorRate", NS, "predictor")
    w.edit(at(26, 19, 0), "Deployment", "predictor", "helm", _set(["spec", "template", "spec", "containers", 0, "image"], "predictor:1.9.0"))  # fmt: skip
    w.decide(
        "inc-4", at(26, 19, 25), "k8s_rollback", rb, "needs_approval", "errors began with the 1.9.0 rollout"
    )
    w.request("inc-4", at(26, 19, 25, 1), "apr-0003", "k8s_rollback", rb, dep("predictor"), "errors began with the 1.9.0 rollout")  # fmt: skip
    w.answer("inc-4", at(26, 19, 29), "apr-0003", "carol", "approve", "k8s_rollback")
    w.apply("inc-4", at(26, 19, 30), "k8s_rollback", rb, dep("predictor"), "image predictor:1.9.0 -> predictor:1.8.2", "carol", "apr-0003")  # fmt: skip
    w.edit(at(26, 19, 29, 58), "Deployment", "predictor", "devops-agent", _set(["spec", "template", "spec", "containers", 0, "image"], "predictor:1.8.2"))  # fmt: skip
    w.verify("inc-4", at(26, 19, 34), "k8s_rollback", "fixed", "error rate back under 0.5%")
    w.finish("inc-4", at(26, 19, 35), "resolved", "predictor 1.9.0 fails requests without a model header")

    # Friday, still in the freeze: two hand edits the agent did not make
    w.edit(
        at(27, 2, 15),
        "Service",
        "api-gateway",
        "kubectl-edit",
        _set(["spec", "ports", 0, "targetPort"], 9090),
    )
    w.edit(at(27, 2, 20), "Deployment", "feature-store", "kubectl-edit",
           _set(["spec", "template", "spec", "containers", 0, "env", 0, "value"], HAND_PASSWORD))  # fmt: skip

    # Saturday: a scale-up made it worse and was undone; an apply the API refused
    up = {"deployment": "feature-store", "namespace": NS, "replicas": 6}
    down = Undo(tool="k8s_scale", args={"deployment": "feature-store", "namespace": NS, "replicas": 2})
    w.start(
        "inc-5",
        at(28, 10, 0),
        "feature-store connections saturated",
        "DBConnectionsHigh",
        NS,
        "feature-store",
    )
    w.decide(
        "inc-5", at(28, 10, 3), "k8s_scale", up, "needs_approval", "connection wait time rising with load"
    )
    w.request("inc-5", at(28, 10, 3, 1), "apr-0004", "k8s_scale", up, dep("feature-store"), "connection wait time rising with load", down)  # fmt: skip
    w.answer("inc-5", at(28, 10, 4), "apr-0004", "alice", "approve", "k8s_scale")
    w.apply("inc-5", at(28, 10, 4, 10), "k8s_scale", up, dep("feature-store"), "replicas 2 -> 6", "alice", "apr-0004", down)  # fmt: skip
    w.edit(at(28, 10, 4, 9), "Deployment", "feature-store", "devops-agent", _set(["spec", "replicas"], 6))
    w.verify("inc-5", at(28, 10, 8), "k8s_scale", "worse", "connections exhausted: max_connections reached")
    w.audit.append("action_undone", incident_id="inc-5", at=at(28, 10, 8, 5),
                   data={"tool": "k8s_scale", "undo": down.model_dump(mode="json"), "status": "ok", "result": "scaled to 2"})  # fmt: skip
    w.edit(at(28, 10, 8, 4), "Deployment", "feature-store", "devops-agent", _set(["spec", "replicas"], 2))
    cordon = {"node": "node-3"}
    w.decide("inc-5", at(28, 10, 20), "k8s_cordon", cordon, "needs_approval", "node-3 runs the hot replica")
    w.request("inc-5", at(28, 10, 20, 1), "apr-0005", "k8s_cordon", cordon, Target(kind="Node", name="node-3"), "node-3 runs the hot replica")  # fmt: skip
    w.answer("inc-5", at(28, 10, 21), "apr-0005", "carol", "approve", "k8s_cordon")
    w.audit.append("tool_call", incident_id="inc-5", at=at(28, 10, 21, 5),
                   data={"tool": "k8s_cordon", "args": cordon, "status": "error", "purpose": "apply", "dry_run": False,
                         "summary": "admission webhook denied the request: node-3 is protected"})  # fmt: skip
    w.finish("inc-5", at(28, 10, 25), "escalated", "too many connections per replica")

    # Sunday: nobody answered an approval in time
    w.start("inc-6", at(29, 4, 0), "predictor memory near limit", "KubeMemoryNearLimit", NS, "predictor")
    w.request(
        "inc-6",
        at(29, 4, 1),
        "apr-0006",
        "k8s_rollout_restart",
        rb,
        dep("predictor"),
        "memory at 96% of limit",
    )
    w.answer("inc-6", at(29, 5, 2), "apr-0006", "dave", "reject", "k8s_rollout_restart",
             "the approval expired at 2026-11-29T05:01:00+00:00")  # fmt: skip
    w.finish("inc-6", at(29, 5, 3), "escalated", "")
    return w
