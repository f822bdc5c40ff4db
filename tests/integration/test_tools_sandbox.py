"""Tools against the running sandbox: its real Prometheus, its Kubernetes and Loki stand-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.base import ToolResult
from tools.deps import Deps
from tools.registry import default_registry

pytestmark = pytest.mark.sandbox
NS = "market-predictor"
REGISTRY = default_registry()


def run(deps: Deps, name: str, args: dict[str, Any], *, dry_run: bool = False) -> ToolResult:
    tool = REGISTRY.get(name)
    assert tool is not None
    return tool.invoke(deps, args, dry_run=dry_run)


@pytest.fixture
def deps(sandbox: Any, tmp_path: Path) -> Deps:
    return Deps(
        kubeconfig=Path(sandbox.kubeconfig),
        prometheus_url=sandbox.prometheus_url,
        loki_url=sandbox.loki_url,
        raw_dir=tmp_path,
    )


def test_prometheus_tools_against_real_prometheus(sandbox: Any, deps: Deps) -> None:
    rate_query = f'sum by (service) (rate(http_requests_total{{namespace="{NS}"}}[1m]))'
    sandbox.wait_until(lambda: len(sandbox.prom_query(rate_query)) >= 2 or None, 60, "two scrapes")
    up = run(deps, "prometheus_query", {"query": "up"})
    assert up.status == "ok" and all(s["value"] == 1.0 for s in up.data)
    rate = run(deps, "prometheus_range_query", {"query": rate_query, "minutes": 5})
    assert rate.status == "ok" and {"api-gateway", "predictor"} <= {s["labels"]["service"] for s in rate.data}
    bad = run(deps, "prometheus_query", {"query": "sum(rate(http_requests_total))"})
    assert bad.status == "error" and "expected type range vector" in bad.text
    assert "Hint:" in bad.text
    rules = run(deps, "prometheus_rules", {"kind": "alert"})
    assert "ServiceHighErrorRate" in {r["name"] for r in rules.data}
    names = run(deps, "prometheus_metric_names", {"prefix": "kube_deployment"})
    assert "kube_deployment_spec_replicas" in names.data
    labels = run(deps, "prometheus_labels", {"metric": "http_requests_total", "label": "service"})
    assert "predictor" in labels.data
    targets = run(deps, "prometheus_targets", {})
    assert targets.status == "ok" and targets.data
    assert run(deps, "prometheus_alerts", {"state": "all"}).status in ("ok", "no_data")


def test_resource_usage_has_usage_from_cadvisor_metrics(sandbox: Any, deps: Deps) -> None:
    cpu = f'rate(container_cpu_usage_seconds_total{{namespace="{NS}"}}[5m])'
    sandbox.wait_until(lambda: sandbox.prom_query(cpu) or None, 60, "two cAdvisor scrapes")
    result = run(deps, "k8s_resource_usage", {"namespace": NS, "deployment": "predictor"})
    assert result.status == "ok" and "no usage data" not in result.text
    assert all(row["memory"] and row["memory"] > 0 for row in result.data)


def test_loki_patterns_on_live_logs(deps: Deps) -> None:
    result = run(deps, "loki_patterns", {"query": f'{{namespace="{NS}"}}', "minutes": 10})
    assert result.status == "ok" and result.data[0]["count"] >= 1


def test_bad_deploy_triage_and_rollback(sandbox: Any, deps: Deps) -> None:
    fault = sandbox.inject("bad-deploy", "predictor")
    try:
        sandbox.wait_for_alert("ServiceHighErrorRate", timeout=120)
        triage = run(deps, "triage", {"namespace": NS, "service": "predictor"})
        findings = triage.data["findings"]
        kinds = {(f["kind"], f["data"].get("deployment") or f["data"].get("service")) for f in findings}
        assert ("high_error_rate", "predictor") in kinds and ("recent_rollout", "predictor") in kinds
        rollout = next(f for f in findings if f["kind"] == "recent_rollout")
        assert rollout["data"]["deployment"] == "predictor" and rollout["severity"] == "warning"
        applied = run(deps, "k8s_rollback", {"deployment": "predictor", "namespace": NS})
        assert applied.status == "ok" and applied.effect is not None and applied.effect.changed
        assert rollout["data"]["previous_image"] in applied.text
        sandbox.wait_end_state(fault, timeout=120)
        again = run(deps, "k8s_rollback", {"deployment": "predictor", "namespace": NS})
        assert again.effect is not None and not again.effect.changed
    finally:
        sandbox.reset()
