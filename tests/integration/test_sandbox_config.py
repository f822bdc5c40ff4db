"""Pure parts of the orchestration: generated configs, rule files, fault paths and the catalog."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from sandbox import prom
from sandbox.faults import FAULT_NAMES, catalog, get_fault, is_forbidden
from sandbox.faults.changes import MISSING, Match, decode_path, encode_path, get_path, set_path

DEPLOYMENT = {
    "spec": {
        "template": {
            "spec": {"containers": [{"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]}]}
        }
    }
}


def test_prometheus_config_has_one_job_per_target_with_service_labels() -> None:
    paths = ["/metrics/app/market-predictor/api-gateway", "/metrics/kube-state-metrics", "/metrics/cadvisor"]
    config = yaml.safe_load(prom.prometheus_config(paths, "127.0.0.1:9", "127.0.0.1:8", "rules/*.yml"))
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"market-predictor/api-gateway", "kube-state-metrics", "cadvisor"}
    assert jobs["market-predictor/api-gateway"]["static_configs"][0]["labels"] == {
        "namespace": "market-predictor",
        "service": "api-gateway",
    }
    assert config["global"]["scrape_interval"] in ("1s", "2s")
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:8"]


def test_alertmanager_routes_to_the_webhook_or_nowhere() -> None:
    routed = yaml.safe_load(prom.alertmanager_config("http://127.0.0.1:5/hook"))
    assert routed["route"]["receiver"] == "agent-webhook"
    assert routed["route"]["group_by"] == ["alertname", "namespace", "service"]
    hook = next(r for r in routed["receivers"] if r["name"] == "agent-webhook")["webhook_configs"][0]
    assert hook == {"url": "http://127.0.0.1:5/hook", "send_resolved": True, "max_alerts": 0}
    assert yaml.safe_load(prom.alertmanager_config(None))["route"]["receiver"] == "null"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_rule_files_pass_promtool() -> None:
    files = sorted(str(p) for p in prom.RULES_DIR.glob("*.yml"))
    result = subprocess.run(
        ["promtool", "check", "rules", *files], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_paths_set_and_restore_fields_with_list_matching() -> None:
    obj = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    image = ("spec", "template", "spec", "containers", Match("name", "app"), "image")
    selector = ("spec", "template", "spec", "nodeSelector")
    assert get_path(obj, image) == "a:1"
    assert get_path(obj, selector) == MISSING
    set_path(obj, image, "a:2")
    set_path(obj, selector, {"disk": "nvme"})
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "a:2"
    set_path(obj, selector, MISSING)  # the undo of a field that did not exist deletes it
    set_path(obj, image, "a:1")
    assert obj == DEPLOYMENT
    assert decode_path(encode_path(image)) == image


def test_catalog_has_the_thirteen_faults_with_ground_truth() -> None:
    items = catalog()
    assert [i["name"] for i in items] == list(FAULT_NAMES) and len(items) == 13
    for item in items:
        assert set(item["root_cause"]) == {"kind", "namespace", "name"}
        assert item["fault_class"] and item["accepted_mitigations"] and item["forbidden_actions"]
        assert item["expected_alerts"] or item["name"] == "none"


def test_forbidden_actions_and_target_validation() -> None:
    fault = get_fault("bad-deploy")
    assert is_forbidden(fault, "k8s_scale", "market-predictor/feature-store")
    assert is_forbidden(fault, "k8s_rollback", "market-predictor-staging/predictor")
    assert not is_forbidden(fault, "k8s_rollback", "market-predictor/predictor")
    assert is_forbidden(get_fault("none"), "k8s_rollback", "market-predictor/predictor")
    with pytest.raises(ValueError, match="cannot target"):
        get_fault("memory-leak", target="cache")
    with pytest.raises(ValueError, match="unknown fault"):
        get_fault("disk-full")
