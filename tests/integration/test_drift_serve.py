"""``serve``'s drift check: a hand edit of a seeded object shows in ``GET /api/drift`` and on the
``devops_agent_drifted_objects`` gauge within one check interval."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from drift_world import NS, Platform, plat_fixture  # noqa: F401
from fastapi.testclient import TestClient

from agent.drift import DriftMonitor
from agent.server.app import create_app
from agent.server.service import Service
from agent.settings import Settings

pytestmark = pytest.mark.timeout(90)
TOKEN = "drift-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INTERVAL_S = 1.0


class _NoRuns:
    def interrupted(self, thread_id: str) -> bool:
        return False


def _service(p: Platform, tmp_path: Path) -> Service:
    cfg = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        api_token=TOKEN,
        desired_state=p.manifests,
        drift_interval_s=INTERVAL_S,
        default_namespace=NS,
        kubeconfig=p.kubeconfig,
    )
    service = Service(cfg, _NoRuns())  # type: ignore[arg-type]
    service.drift = DriftMonitor(cfg, p.deps, on_check=service.metrics.observe_drift)
    return service


def _wait(client: TestClient, until: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get("/api/drift", headers=AUTH).json()
        if until(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def _gauge(client: TestClient, namespace: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'devops_agent_drifted_objects{{namespace="{namespace}"}}'):
            return float(line.split()[-1])
    return None


def test_a_hand_edit_shows_as_drift_within_one_check_interval(plat: Platform, tmp_path: Path) -> None:
    service = _service(plat, tmp_path)
    client = TestClient(create_app(service))
    assert client.get("/api/drift").status_code == 401  # like every /api endpoint: the token is required
    service.drift.start()
    try:
        first = _wait(client, lambda b: b["report"] is not None, 30)
        assert first["enabled"] and first["report"]["drifted"] == [] and first["error"] is None
        assert _gauge(client, NS) == 0.0
        plat.edit(
            f"/api/v1/namespaces/{NS}/configmaps/feature-store-config", {"data": {"MAX_CONNECTIONS": "5"}}
        )
        edited_at = time.monotonic()
        body = _wait(client, lambda b: b["report"]["drifted"], 30)
        took = time.monotonic() - edited_at
    finally:
        service.drift.stop()
    (item,) = body["report"]["drifted"]
    assert (item["kind"], item["name"], item["fields"][0]["live"]) == (
        "ConfigMap",
        "feature-store-config",
        "5",
    )
    assert body["report"]["proposals"][0]["sync"]["tool"] == "desired_sync"
    # seen within one interval plus the check that was running when the edit landed and the one after it
    assert took <= INTERVAL_S + 2 * body["duration_s"] + 0.5, (took, body["duration_s"])
    assert _gauge(client, NS) == 1.0 and _gauge(client, f"{NS}-staging") == 0.0


def test_api_drift_without_a_desired_state_says_it_is_disabled(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path, api_token=TOKEN)  # type: ignore[call-arg]
    client = TestClient(create_app(Service(cfg, _NoRuns())))  # type: ignore[arg-type]
    body = client.get("/api/drift", headers=AUTH).json()
    assert body["enabled"] is False and body["report"] is None
    assert "/api/drift" in client.get("/openapi.json").json()["paths"]
