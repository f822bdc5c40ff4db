"""The kubelet's private records of pods and containers, and the pod status it reports from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.images import ImageProfile, image_id
from sandbox.sim.containers import Crash
from sandbox.sim.objects import Obj, iso, set_condition

BACKOFF_BASE_S = 5.0
Phase = Literal["pull", "pull_backoff", "create", "running", "backoff", "done"]


@dataclass
class Instance:
    """The kubelet's private record of one container across its restarts."""

    name: str
    image: str
    phase: Phase = "pull"
    profile: ImageProfile | None = None
    waiting: tuple[str, str] | None = ("ContainerCreating", "")
    restart_count: int = 0
    started_at: float | None = None
    ever_started: bool = False
    container_id: str = ""
    crash: Crash | None = None
    env: dict[str, str] = field(default_factory=dict)
    last_terminated: dict[str, Any] | None = None
    next_at: float = 0.0
    backoff_s: float = BACKOFF_BASE_S
    pull_backoff_s: float = BACKOFF_BASE_S
    ready: bool = False
    ready_probe_at: float = 0.0
    ready_failures: int = 0
    live_probe_at: float = 0.0
    live_failures: int = 0
    startup_ok: bool = False
    final: dict[str, Any] | None = None  # the last exit, when restartPolicy says not to restart
    startup_probe_at: float = 0.0
    startup_failures: int = 0


@dataclass
class PodRecord:
    uid: str
    pod_ip: str
    start_time: str
    containers: dict[str, Instance] = field(default_factory=dict)


def container_status(spec: Obj, inst: Instance) -> Obj:
    """One entry of ``status.containerStatuses``."""
    running = inst.phase == "running"
    state: dict[str, Any]
    if running and inst.started_at is not None:
        state = {"running": {"startedAt": iso(inst.started_at)}}
    elif inst.phase == "done" and inst.final is not None:
        state = {"terminated": dict(inst.final)}
    else:
        reason, message = inst.waiting or ("ContainerCreating", "")
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    status: Obj = {
        "name": inst.name,
        "image": spec.get("image", inst.image),
        "imageID": image_id(inst.image) if inst.profile is not None else "",
        "ready": running and inst.ready,
        "started": running and inst.startup_ok,
        "restartCount": inst.restart_count,
        "state": state,
        "lastState": {"terminated": dict(inst.last_terminated)} if inst.last_terminated else {},
    }
    if inst.container_id:
        status["containerID"] = inst.container_id
    return status


def _host_ip(node: Obj) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address", ""))
    return ""


def _phase(record: PodRecord, started: bool) -> str:
    """Pending until a container started; Succeeded/Failed once every container exited for good."""
    finals = [i.final for i in record.containers.values() if i.phase == "done" and i.final is not None]
    if finals and len(finals) == len(record.containers):
        return "Succeeded" if all(f["exitCode"] == 0 for f in finals) else "Failed"
    return "Running" if started else "Pending"


def pod_status(pod: Obj, record: PodRecord, node: Obj, now: str) -> Obj:
    """The full ``status`` the kubelet would write for ``pod`` at ``now``."""
    old = pod.get("status") or {}
    statuses = [
        container_status(spec, record.containers[spec["name"]])
        for spec in pod["spec"].get("containers", [])
        if spec["name"] in record.containers
    ]
    all_ready = bool(statuses) and all(s["ready"] for s in statuses)
    started = any(i.ever_started or i.last_terminated for i in record.containers.values())
    conditions: list[Obj] = list(old.get("conditions") or [])
    ready_text = "True" if all_ready else "False"
    not_ready = [s["name"] for s in statuses if not s["ready"]]
    reason = (
        {}
        if all_ready
        else {
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{' '.join(not_ready)}]",
        }
    )
    for new in (
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": ready_text, **reason},
        {"type": "ContainersReady", "status": ready_text, **reason},
    ):
        conditions = set_condition(conditions, {**new, "lastProbeTime": None}, now)
        if all_ready:
            for cond in conditions:
                if cond["type"] == new["type"]:
                    cond.pop("reason", None)
                    cond.pop("message", None)
    host_ip = _host_ip(node)
    status: Obj = {
        **{k: v for k, v in old.items() if k in ("qosClass", "nominatedNodeName")},
        "phase": _phase(record, started),
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "podIP": record.pod_ip,
        "podIPs": [{"ip": record.pod_ip}],
        "startTime": record.start_time,
        "containerStatuses": statuses,
    }
    return status
