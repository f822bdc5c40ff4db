"""Faults outside the catalog: a scenario injects raw ``kubectl`` commands or patches against the API.

Nothing here knows what the change breaks. The ground truth is what the scenario's author declares
(the root-cause object and the class), and the end state is judged generically: every workload of
the namespace that served before the injection serves again (all replicas ready, none Pending), and
no service of the namespace answers more than 2% 5xx. Where no safe change exists (a rotated
credential), the scenario expects an escalation that names the root cause instead.

    changes:
      - kubectl: "-n market-predictor scale deploy predictor --replicas=0"
      - patch: {kind: Service, name: predictor, type: json,
                body: [{op: replace, path: /spec/ports/0/targetPort, value: 9091}]}
    truth: {root_cause: {kind: Deployment, name: predictor}, fault_class: operation_error}
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any, Literal

from kubernetes import client as k8s
from pydantic import BaseModel, ConfigDict, Field

from sandbox.faults import checks

NAMESPACE = "market-predictor"
MAX_ERROR_RATIO = 0.02


class Patch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    name: str
    namespace: str | None = NAMESPACE
    type: Literal["json", "merge", "strategic"] = "strategic"
    body: Any


class Step(BaseModel):
    """One injection step: exactly one of ``kubectl`` (arguments, as typed after ``kubectl``) or ``patch``."""

    model_config = ConfigDict(extra="forbid")
    kubectl: str | None = None
    patch: Patch | None = None
    wait_s: float = Field(0, ge=0, description="Pause after this step (e.g. before a noise step).")

    def model_post_init(self, _: Any) -> None:
        if (self.kubectl is None) == (self.patch is None):
            raise ValueError("a change step has exactly one of 'kubectl' or 'patch'")


class Truth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root_cause: dict[str, str] = Field(description="kind and name (and namespace) of the object that broke")
    fault_class: str
    affected_services: list[str] = Field(default_factory=list)
    forbidden_actions: list[str] = Field(
        default_factory=list, description="tool:namespace/name globs on top of the common ones"
    )


def _kubectl(args: list[str], kubeconfig: Path, shown: str) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {shown!r} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def apply_step(step: Step, kubeconfig: Path) -> str:
    """Run one step against the sandbox through its public API, with kubectl (a patch is sent as
    ``kubectl patch --type``, so a refused one fails the injection loudly)."""
    if step.kubectl is not None:
        return _kubectl(shlex.split(step.kubectl), kubeconfig, step.kubectl)
    assert step.patch is not None
    p = step.patch
    args = ["patch", p.kind.lower(), p.name, "--type", p.type, "-p", json.dumps(p.body)]
    if p.namespace and p.kind != "Node":
        args[:0] = ["-n", p.namespace]
    return _kubectl(args, kubeconfig, " ".join(args))


def serving_workloads(api: k8s.ApiClient, namespace: str) -> dict[str, int]:
    """Deployments of the namespace with ready pods now: name → ready replicas (the baseline)."""
    apps = k8s.AppsV1Api(api)
    return {
        str(d.metadata.name): int(d.status.ready_replicas or 0)
        for d in apps.list_namespaced_deployment(namespace).items
        if (d.status.ready_replicas or 0) > 0
    }


def platform_healthy(
    api: k8s.ApiClient, prom_url: str, namespace: str, baseline: dict[str, int]
) -> tuple[bool, str]:
    """Every workload that served before serves again, and no service answers > 2% 5xx."""
    results = [checks.deployment_rolled_out(api, namespace, name) for name in sorted(baseline)]
    ratios = _error_ratios(prom_url, namespace)
    if ratios is None:
        results.append((False, f"no request metrics for {namespace}"))
    else:
        bad = {s: r for s, r in ratios.items() if r >= MAX_ERROR_RATIO}
        results.append(
            (
                not bad,
                "; ".join(f"{s} answers {r:.1%} 5xx" for s, r in sorted(bad.items()))
                or "no service above 2% 5xx",
            )
        )
    return checks.all_of(*results)


def _error_ratios(prom_url: str, namespace: str) -> dict[str, float] | None:
    import httpx

    sel = f'namespace="{namespace}"'
    query = (
        f'sum by (service) (rate(http_requests_total{{{sel},code=~"5.."}}[30s]))'
        f" / sum by (service) (rate(http_requests_total{{{sel}}}[30s]))"
    )
    try:
        r = httpx.get(f"{prom_url}/api/v1/query", params={"query": query}, timeout=5)
        rows = r.json()["data"]["result"]
    except Exception:
        return None
    return {str(row["metric"].get("service")): float(row["value"][1]) for row in rows}


class CustomFault:
    """A scenario's own fault: its steps, its declared truth, the generic end-state check."""

    def __init__(self, name: str, steps: list[Step], truth: Truth, description: str = "") -> None:
        self.name, self.steps, self.truth, self.description = name, steps, truth, description
        self.namespace = truth.root_cause.get("namespace") or NAMESPACE
        self.baseline: dict[str, int] = {}

    def inject(self, api: k8s.ApiClient, kubeconfig: Path) -> list[str]:
        import time

        self.baseline = serving_workloads(api, self.namespace)
        out = []
        for step in self.steps:
            out.append(apply_step(step, kubeconfig))
            if step.wait_s:
                time.sleep(step.wait_s)
        return out

    def check_end_state(self, api: k8s.ApiClient, prom_url: str) -> tuple[bool, str]:
        try:
            return platform_healthy(api, prom_url, self.namespace, self.baseline)
        except Exception as exc:
            return False, f"{self.name}: the end-state check could not run: {type(exc).__name__}: {exc}"

    def ground_truth(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "fault_class": self.truth.fault_class,
            "namespace": self.namespace,
            "target": self.truth.root_cause.get("name"),
            "root_cause": {"namespace": self.namespace, **self.truth.root_cause},
            "affected_services": self.truth.affected_services,
            "forbidden_actions": self.truth.forbidden_actions,
            "changes": [json.loads(s.model_dump_json(exclude_none=True)) for s in self.steps],
            "custom": True,
        }
