"""End-state checks: is the platform healthy again, judged only on objects and metrics?

Every check reads the cluster through the Kubernetes API and the metrics through Prometheus' HTTP
API, and returns ``(ok, detail)`` with a detail a human can act on. No check knows *how* the fault
was fixed, so any correct fix passes: a rollback, a corrected spec or a patch.
"""

from __future__ import annotations

from typing import Any

import httpx
from kubernetes import client as k8s

from sandbox.images import get_profile

Result = tuple[bool, str]
Obj = dict[str, Any]


def prom_value(prom_url: str, query: str) -> float | None:
    """The single value of an instant query (max over the result), or None when it has no data."""
    resp = httpx.get(f"{prom_url}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    result = resp.json()["data"]["result"]
    values = [float(r["value"][1]) for r in result]
    values = [v for v in values if v == v]  # drop NaN (0/0 ratios)
    return max(values) if values else None


def selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def deployment_pods(api: k8s.ApiClient, namespace: str, deployment: Obj) -> list[Obj]:
    """The live pods the deployment's selector matches (terminating ones excluded)."""
    labels = deployment["spec"]["selector"].get("matchLabels", {})
    pods = k8s.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector_text(labels))
    items: list[Obj] = api.sanitize_for_serialization(pods).get("items", [])
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def _pod_ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def deployment_rolled_out(api: k8s.ApiClient, namespace: str, name: str, *, min_replicas: int = 1) -> Result:
    """The deployment has converged: every replica updated, ready and available, no old pods left."""
    dep: Obj = api.sanitize_for_serialization(k8s.AppsV1Api(api).read_namespaced_deployment(name, namespace))
    spec = int(dep["spec"].get("replicas", 1))
    st = dep.get("status", {})
    where = f"deployment {namespace}/{name}"
    if spec < min_replicas:
        return False, f"{where} is scaled to {spec} replicas (needs at least {min_replicas})"
    if st.get("observedGeneration", 0) < dep["metadata"].get("generation", 0):
        return (
            False,
            f"{where}: the controller has not observed generation {dep['metadata'].get('generation')} yet",
        )
    counts = {
        k: int(st.get(k) or 0) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    }
    if any(v != spec for v in counts.values()):
        return False, f"{where} not rolled out: spec {spec}, status {counts}"
    pods = deployment_pods(api, namespace, dep)
    not_ready = [p["metadata"]["name"] for p in pods if not _pod_ready(p)]
    if not_ready or len(pods) != spec:
        return False, f"{where}: {len(pods)} pods for {spec} replicas, not ready: {not_ready or 'none'}"
    return True, f"{where}: {spec}/{spec} replicas updated, ready and available"


def pod_images(api: k8s.ApiClient, namespace: str, name: str) -> dict[str, str]:
    """Pod name → image of its first container, for the deployment's live pods."""
    dep: Obj = api.sanitize_for_serialization(k8s.AppsV1Api(api).read_namespaced_deployment(name, namespace))
    return {
        p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
        for p in deployment_pods(api, namespace, dep)
    }


def images_good(api: k8s.ApiClient, namespace: str, name: str, *, max_error_ratio: float = 0.01) -> Result:
    """Every pod runs an image the registry has, with a healthy behaviour profile."""
    bad = []
    for pod, image in pod_images(api, namespace, name).items():
        profile = get_profile(image)
        if profile is None:
            bad.append(f"{pod} runs {image} (not in the registry)")
        elif (
            profile.error_ratio > max_error_ratio
            or profile.memory_growth_mib_per_min > 0
            or profile.crash_on_start is not None
            or profile.stall_after_s is not None
        ):
            bad.append(f"{pod} runs {image} (a known-bad build)")
    if bad:
        return False, "; ".join(bad)
    return True, f"{namespace}/{name} pods run good images"


def error_ratio_below(
    prom_url: str, namespace: str, service: str, limit: float = 0.01, window: str = "30s"
) -> Result:
    """The service's 5xx ratio over the last ``window`` is below ``limit`` (no traffic = fail)."""
    sel = f'namespace="{namespace}",service="{service}"'
    ratio = prom_value(
        prom_url,
        f'(sum(rate(http_requests_total{{{sel},code=~"5.."}}[{window}])) or vector(0))'
        f" / sum(rate(http_requests_total{{{sel}}}[{window}]))",
    )
    if ratio is None:
        return False, f"no request metrics for {namespace}/{service} in the last {window}"
    if ratio >= limit:
        return False, f"{namespace}/{service} 5xx ratio is {ratio:.2%} over {window} (must be < {limit:.0%})"
    return True, f"{namespace}/{service} 5xx ratio {ratio:.2%} over {window}"


def no_recent_restarts(prom_url: str, namespace: str, name: str, window: str = "1m") -> Result:
    """No container of the deployment restarted within ``window`` (from kube-state-metrics)."""
    n = prom_value(
        prom_url,
        f'sum(increase(kube_pod_container_status_restarts_total{{namespace="{namespace}",pod=~"{name}-[^-]+-[^-]+"}}[{window}]))',
    )
    if n is not None and n >= 0.5:
        return False, f"{namespace}/{name} containers restarted {n:.0f} times in the last {window}"
    return True, f"{namespace}/{name}: no restarts in the last {window}"


def all_of(*results: Result) -> Result:
    """Combine checks: ok when all are, the details of the failing ones first."""
    failing = [d for ok, d in results if not ok]
    if failing:
        return False, "; ".join(failing)
    return True, "; ".join(d for _, d in results)
