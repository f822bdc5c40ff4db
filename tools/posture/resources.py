"""Resources and probes: what the scheduler reserves, what the kernel caps, how the kubelet knows."""

from __future__ import annotations

from collections.abc import Callable

from tools.posture.model import Obj
from tools.posture.registry import check
from tools.posture.workloads import WORKLOADS, per_container

LONG_RUNNING = WORKLOADS - {"Job", "CronJob"}


def _resource(section: str, name: str) -> Callable[[Obj, Obj], str | None]:
    def problem(spec: Obj, c: Obj) -> str | None:
        if ((c.get("resources") or {}).get(section) or {}).get(name) in (None, ""):
            return f"resources.{section}.{name} is not set"
        return None

    return problem


_WHY = {
    ("requests", "cpu"): "Without a CPU request the scheduler places the pod as if it needed nothing, "
    "and it is the first to starve when the node is busy.",
    (
        "limits",
        "cpu",
    ): "Without a CPU limit one container can take every core of the node from its neighbours.",
    ("requests", "memory"): "Without a memory request the scheduler overcommits the node, and the pod is "
    "among the first evicted under memory pressure.",
    ("limits", "memory"): "Without a memory limit a leak grows until the node runs out and the kernel "
    "kills whatever it picks.",
}
_CHECKOV = {
    ("requests", "cpu"): "CKV_K8S_10",
    ("limits", "cpu"): "CKV_K8S_11",
    ("requests", "memory"): "CKV_K8S_12",
    ("limits", "memory"): "CKV_K8S_13",
}
for (_section, _name), _why in _WHY.items():
    _problem = _resource(_section, _name)
    check(
        f"resources-{_name}-{_section[:-1]}",
        severity="medium" if _section == "requests" or _name == "memory" else "low",
        title=f"Containers should set a {_name} {_section[:-1]}",
        why=_why,
        fix=f"Set resources.{_section}.{_name} on every container (devops-agent recommend suggests values "
        "from usage history).",
        kinds=WORKLOADS,
        checkov=(_CHECKOV[(_section, _name)],),
    )(per_container(_problem, init=False))


check(
    "probes-liveness",
    severity="medium",
    title="Containers should have a liveness probe",
    why="Without one, a process that hangs keeps its pod Running for ever; nothing restarts it.",
    fix="Add a livenessProbe (httpGet, tcpSocket, grpc or exec) to every long-running container.",
    kinds=LONG_RUNNING,
    checkov=("CKV_K8S_8",),
)(per_container(lambda spec, c: None if c.get("livenessProbe") else "no livenessProbe", init=False))


check(
    "probes-readiness",
    severity="medium",
    title="Containers should have a readiness probe",
    why="Without one, a pod gets traffic the moment it starts, before it can answer, and keeps "
    "getting it when it cannot.",
    fix="Add a readinessProbe to every container that serves traffic.",
    kinds=LONG_RUNNING,
    checkov=("CKV_K8S_9",),
)(per_container(lambda spec, c: None if c.get("readinessProbe") else "no readinessProbe", init=False))
