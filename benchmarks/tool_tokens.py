"""Tokens the model receives in a standard investigation: raw API output vs shaped tool output.

On the sandbox with a fault injected (``bad-deploy`` on ``predictor`` by default), once its alert
fires, this runs the investigation an SRE (or the agent) does first — alerts, triage, recent
changes, pods, the deployment, events, rollout history, the error ratio over time, log patterns,
pod logs, resource usage — and, for each call, measures side by side in the same run:

- **raw**: what the backend API returned for the same request (Kubernetes JSON as served, the
  Prometheus / Loki HTTP JSON responses, the raw log text), i.e. what a model would read if the tool
  passed the API output through (``kubectl ... -o json``, curl on the HTTP API);
- **shaped**: the text the tool gives the model.

Tokens are estimated as characters / 4 (``tools.budget.estimate_tokens``) for both sides. It also
records the size of all tool schemas together and each tool's latency (read tools as called, write
tools as a server-side dry run: nothing changes). Results: ``benchmarks/results/tool_tokens.json``.

    python -m benchmarks.tool_tokens [--fault bad-deploy] [--target predictor] [--sandbox-dir DIR]

With ``--sandbox-dir`` an already running sandbox is used (and left running); otherwise one is
started in a temporary directory and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import config as kube_config

from sandbox import faults, lifecycle
from sandbox.control import ControlClient
from tools.budget import estimate_tokens
from tools.deps import Deps
from tools.kubernetes.client import Kube
from tools.kubernetes.logs import resolve_pod
from tools.prometheus import auto_step
from tools.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "tool_tokens.json"
NS = "market-predictor"
Raw = Callable[[Deps, dict[str, Any]], Any]  # (deps, the tool's arguments) -> raw API output


def _json(obj: Any) -> str:
    return json.dumps(obj)


def _kube(deps: Deps, path: str, **query: Any) -> Any:
    return Kube(deps, None).request("GET", path, query=query)


def _prom(deps: Deps, path: str, **params: Any) -> Any:
    prom = deps.prometheus()
    return prom._session.get(f"{prom.url}{path}", params=params, timeout=30).json()


def _loki(deps: Deps, query: str, minutes: int, limit: int) -> Any:
    end = time.time_ns()
    params = {"query": query, "start": end - minutes * 60 * 10**9, "end": end, "limit": limit}
    return deps.loki()._http.get("/loki/api/v1/query_range", params=params).json()


def _list(kind_path: str) -> Raw:
    return lambda deps, _args: _kube(deps, kind_path)


def investigation(target: str) -> list[tuple[str, dict[str, Any], Raw]]:
    """(tool, args, raw equivalent) of the standard investigation."""
    apps = f"/apis/apps/v1/namespaces/{NS}"
    core = f"/api/v1/namespaces/{NS}"
    ratio = f'sum by (service) (rate(http_requests_total{{namespace="{NS}",code=~"5.."}}[1m])) / sum by (service) (rate(http_requests_total{{namespace="{NS}"}}[1m]))'
    log_query = f'{{namespace="{NS}", app="{target}"}}'
    end = time.time()

    def everything(deps: Deps, _args: dict[str, Any]) -> list[Any]:
        paths = [f"{core}/pods", f"{apps}/deployments", f"{apps}/replicasets", f"{core}/services", f"{core}/endpoints",
                 f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers", f"{core}/events", f"{core}/configmaps", "/api/v1/nodes"]  # fmt: skip
        return [_kube(deps, p) for p in paths]

    def usage(deps: Deps, _args: dict[str, Any]) -> list[Any]:
        sel = f'namespace="{NS}",pod=~"{target}-.*"'
        return [
            _kube(deps, f"{core}/pods", labelSelector=f"app={target}"),
            _prom(deps, "/api/v1/query", query=f"container_memory_working_set_bytes{{{sel}}}"),
            _prom(deps, "/api/v1/query", query=f"rate(container_cpu_usage_seconds_total{{{sel}}}[5m])"),
        ]

    def describe(deps: Deps, _args: dict[str, Any]) -> list[Any]:
        return [_kube(deps, f"{apps}/deployments/{target}"), _kube(deps, f"{apps}/replicasets", labelSelector=f"app={target}"),
                _kube(deps, f"{core}/pods", labelSelector=f"app={target}"), _kube(deps, f"{core}/events")]  # fmt: skip

    def pod_logs(deps: Deps, args: dict[str, Any]) -> str:
        return str(Kube(deps, None).pod_log(args["pod"], NS, tailLines=100))

    return [
        ("prometheus_alerts", {}, lambda d, _a: _prom(d, "/api/v1/alerts")),
        ("triage", {"namespace": NS, "service": target}, everything),
        ("recent_changes", {"namespace": NS, "minutes": 60}, everything),
        ("k8s_list", {"kind": "pod", "namespace": NS}, _list(f"{core}/pods")),
        ("k8s_describe", {"kind": "deployment", "name": target, "namespace": NS}, describe),
        ("k8s_events", {"namespace": NS}, _list(f"{core}/events")),
        ("k8s_rollout_history", {"deployment": target, "namespace": NS}, lambda d, _a: _kube(d, f"{apps}/replicasets", labelSelector=f"app={target}")),
        ("prometheus_range_query", {"query": ratio, "minutes": 30},
         lambda d, _a: _prom(d, "/api/v1/query_range", query=ratio, start=end - 1800, end=end, step=auto_step(30))),
        ("loki_patterns", {"query": log_query, "minutes": 15}, lambda d, _a: _loki(d, log_query, 15, 5000)),
        ("k8s_pod_logs", {"pod": f"deployment/{target}", "namespace": NS}, pod_logs),
        ("k8s_resource_usage", {"namespace": NS, "deployment": target}, usage),
        ("k8s_get", {"kind": "deployment", "name": target, "namespace": NS}, lambda d, _a: _kube(d, f"{apps}/deployments/{target}")),
    ]  # fmt: skip


def latency_args(target: str) -> dict[str, dict[str, Any]]:
    """Arguments for a latency run of every tool (write tools run as a dry run)."""
    pod_query = f'{{namespace="{NS}"}}'
    return {
        "prometheus_query": {
            "query": f'sum by (service) (rate(http_requests_total{{namespace="{NS}"}}[1m]))'
        },
        "prometheus_range_query": {"query": "up", "minutes": 30},
        "prometheus_alerts": {"state": "all"},
        "prometheus_rules": {},
        "prometheus_metric_names": {"prefix": "kube_"},
        "prometheus_labels": {"metric": "http_requests_total"},
        "prometheus_targets": {},
        "loki_query": {"query": pod_query, "minutes": 5},
        "loki_labels": {},
        "loki_patterns": {"query": pod_query, "minutes": 5},
        "k8s_list": {"kind": "pod", "namespace": NS},
        "k8s_get": {"kind": "deployment", "name": target, "namespace": NS},
        "k8s_describe": {"kind": "deployment", "name": target, "namespace": NS},
        "k8s_events": {"namespace": NS},
        "k8s_pod_logs": {"pod": f"deployment/{target}", "namespace": NS},
        "k8s_rollout_history": {"deployment": target, "namespace": NS},
        "k8s_resource_usage": {"namespace": NS, "deployment": target},
        "recent_changes": {"namespace": NS},
        "triage": {"namespace": NS, "service": target},
        "k8s_rollout_restart": {"deployment": target, "namespace": NS},
        "k8s_scale": {"deployment": "ingest-worker", "namespace": NS, "replicas": 3},
        "k8s_rollback": {"deployment": target, "namespace": NS},
        "k8s_set_image": {
            "deployment": target,
            "namespace": NS,
            "container": target,
            "image": "registry.local/market-predictor/predictor:1.4.0",
        },
        "k8s_set_resources": {
            "deployment": target,
            "namespace": NS,
            "container": target,
            "memory_limit": "1Gi",
        },
        "k8s_patch_configmap": {"name": "predictor-config", "namespace": NS, "key": "WORKERS", "value": "8"},
        "k8s_patch_service": {"name": target, "namespace": NS, "target_port": 8001},
        "k8s_cordon": {"node": "node-a"},
        "k8s_delete_pod": {"pod": "deployment-pod-placeholder", "namespace": NS},
    }


def wait_for_alerts(deps: Deps, names: list[str], timeout_s: float) -> list[str]:
    alerts_tool = default_registry().get("prometheus_alerts")
    assert alerts_tool is not None
    deadline = time.monotonic() + timeout_s
    firing: list[str] = []
    while time.monotonic() < deadline:
        result = alerts_tool.invoke(deps, {"state": "firing"})
        firing = sorted({a["alertname"] for a in result.data or []}) if result.status == "ok" else []
        if set(names) & set(firing):
            return firing
        time.sleep(3)
    return firing


def measure(deps: Deps, target: str) -> dict[str, Any]:
    registry = default_registry()
    calls = []
    for name, args, raw_fn in investigation(target):
        tool = registry.get(name)
        assert tool is not None
        if name == "k8s_pod_logs":  # pods come and go in a rollout: both sides read the same pod
            args = {**args, "pod": resolve_pod(Kube(deps, None), args["pod"], NS)[0]}
        result = tool.invoke(deps, args)
        raw = raw_fn(deps, args)
        raw_text = raw if isinstance(raw, str) else _json(raw)
        calls.append({
            "tool": name, "args": args, "status": result.status, "latency_s": round(result.duration_s, 4),
            "raw_tokens": estimate_tokens(raw_text), "shaped_tokens": estimate_tokens(result.text), "truncated": result.truncated,
        })  # fmt: skip
    latency: dict[str, float] = {}
    pods = Kube(deps, None).list("pod", NS, label_selector=f"app={target}")
    for name, args in latency_args(target).items():
        tool = registry.get(name)
        assert tool is not None
        if name == "k8s_delete_pod":
            args = {**args, "pod": pods[0]["metadata"]["name"]}
        result = tool.invoke(deps, args, dry_run=True)
        latency[name] = round(result.duration_s, 4)
    raw_total = sum(c["raw_tokens"] for c in calls)
    shaped_total = sum(c["shaped_tokens"] for c in calls)
    schema_tokens = estimate_tokens(json.dumps(registry.openai_schemas()))
    return {
        "calls": calls,
        "latency_s": latency,
        "totals": {"raw_tokens": raw_total, "shaped_tokens": shaped_total},
        "schema_tokens": schema_tokens,
        "tools": len(registry),
        "summary": {
            "raw tokens": raw_total,
            "shaped tokens": shaped_total,
            "reduction": f"{raw_total / max(shaped_total, 1):.0f}x",
            "all tool schemas (tokens)": schema_tokens,
            "tools": len(registry),
            "median tool latency (ms)": round(statistics.median(latency.values()) * 1000, 1),
            "slowest tool": max(latency, key=lambda k: latency[k]),
        },
    }


def run(directory: Path, fault_name: str, target: str, keep: bool) -> dict[str, Any]:
    state = lifecycle.up(directory, timeout_s=180, progress=lambda m: print(f"sandbox: {m}", file=sys.stderr))
    deps = Deps(
        kubeconfig=Path(state.kubeconfig),
        prometheus_url=state.prometheus_url,
        loki_url=state.loki_url,
        raw_dir=directory / "raw",
    )
    control = ControlClient(state.control_url)
    try:
        fault = faults.get_fault(fault_name, target)
        faults.inject(kube_config.new_client_from_config(config_file=state.kubeconfig), fault, control)
        firing = wait_for_alerts(deps, list(fault.expected_alerts), timeout_s=180)
        report = measure(deps, target)
        return {
            "scenario": f"{fault_name} on {target}, standard investigation of {len(report['calls'])} tool calls",
            "fault": fault_name, "target": target, "alerts_firing": firing,
            "estimator": "tokens = ceil(characters / 4), same for raw and shaped", **report,
        }  # fmt: skip
    finally:
        control.reset()
        deps.close()
        if not keep:
            lifecycle.down(directory)


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['scenario']}; alerts firing: {', '.join(result['alerts_firing']) or 'none'}")
    print(f"{'tool':24} {'raw':>9} {'shaped':>7} {'ratio':>6} {'ms':>7}")
    for c in result["calls"]:
        ratio = c["raw_tokens"] / max(c["shaped_tokens"], 1)
        print(
            f"{c['tool']:24} {c['raw_tokens']:>9,} {c['shaped_tokens']:>7,} {ratio:>5.0f}x {c['latency_s'] * 1000:>7.1f}"
        )
    t = result["totals"]
    print(
        f"{'total':24} {t['raw_tokens']:>9,} {t['shaped_tokens']:>7,} {t['raw_tokens'] / max(t['shaped_tokens'], 1):>5.0f}x"
    )
    print(f"all {result['tools']} tool schemas: {result['schema_tokens']} tokens")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fault", default="bad-deploy")
    parser.add_argument("--target", default="predictor")
    parser.add_argument(
        "--sandbox-dir", type=Path, help="use the sandbox running in this directory (left running)"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.sandbox_dir:
        result = run(args.sandbox_dir, args.fault, args.target, keep=True)
    else:
        with tempfile.TemporaryDirectory(prefix="tool-tokens-") as tmp:
            result = run(Path(tmp), args.fault, args.target, keep=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
