"""``k8s_pod_logs``: the tail of a pod's log, repeats folded, secrets masked, sized to the budget."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import NotFound, expected_errors
from tools.kubernetes.client import Kube, Obj
from tools.kubernetes.common import Context, deployment_pods
from tools.kubernetes.shape import pod_phase, pod_ready, pod_restarts


def fold_repeats(lines: list[str]) -> list[str]:
    """Collapse runs of identical lines into one line with a count."""
    out: list[str] = []
    prev, count = None, 0
    for line in [*lines, None]:
        if line == prev:
            count += 1
            continue
        if prev is not None:
            out.append(prev if count == 1 else f"{prev}  [x{count}]")
        prev, count = line, 1
    return out


def _worst_pod(pods: list[Obj]) -> Obj:
    """The pod most worth reading: not ready, then most restarts."""
    return sorted(
        pods, key=lambda p: (pod_ready(p).split("/")[0] == pod_ready(p).split("/")[1], -pod_restarts(p))
    )[0]


def resolve_pod(kube: Kube, pod: str, namespace: str) -> tuple[str, str]:
    """A pod name from ``NAME`` or ``deployment/NAME``; also says which pod was picked and why."""
    if not pod.startswith(("deployment/", "deploy/")):
        return pod, ""
    name = pod.split("/", 1)[1]
    pods = deployment_pods(kube, kube.get("deployment", name, namespace))
    if not pods:
        raise NotFound(
            f"deployment {namespace}/{name} has no pods; see k8s_describe(kind='deployment', name='{name}')."
        )
    chosen = _worst_pod(pods)
    cname = chosen["metadata"]["name"]
    note = f"picked {cname} ({pod_phase(chosen)}, ready {pod_ready(chosen)}, {pod_restarts(chosen)} restarts) of {len(pods)} pods"
    return cname, note


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def k8s_pod_logs(
    deps: ToolDeps,
    pod: Annotated[str, Field(description="name or deployment/NAME")],
    namespace: str,
    container: str | None = None,
    tail: int = 100,
    since_minutes: int | None = None,
    previous: bool = False,
    context: Context = None,
) -> ToolResult:
    """Log tail of a pod; previous=True for the crashed container.
    Example: k8s_pod_logs(pod="deployment/api", namespace="ns", previous=True)"""
    kube = Kube(deps, context)
    name, note = resolve_pod(kube, pod, namespace)
    text = kube.pod_log(
        name,
        namespace,
        container=container,
        tailLines=max(tail, 1),
        sinceSeconds=since_minutes * 60 if since_minutes else None,
        previous="true" if previous else None,
    )
    lines = fold_repeats(text.splitlines())
    head = f"logs of {namespace}/{name}{' (previous container)' if previous else ''}" + (
        f"; {note}" if note else ""
    )
    if not lines:
        return ToolResult.no_data(f"{head}: empty")
    return shaped(
        deps,
        f"logs-{name}",
        f"{head}\n" + "\n".join(lines),
        {"pod": name, "lines": len(lines)},
        raw=text,
        keep="tail",
    )
