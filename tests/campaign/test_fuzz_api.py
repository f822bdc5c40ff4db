"""``schemathesis`` against ``serve``'s OpenAPI: every endpoint, with a valid token, a wrong one and
none. No 5xx but those the schema declares (a dependency that is down, such as Prometheus for
``/api/slo``), and those with a reason; no 2xx from the incidents and approvals API without the valid
token."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fakes.campaign_out import full_runs, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_inputs import IdleRunner

from agent.approvals import ApprovalRequest
from agent.server.app import create_app
from agent.server.service import Service
from agent.settings import Settings
from tools.base import Target

TOKEN = "fuzz-api-token"
HEADERS = {
    "valid": {"Authorization": f"Bearer {TOKEN}"},
    "wrong": {"Authorization": f"Bearer {TOKEN}x"},
    "scheme": {"Authorization": f"Basic {TOKEN}"},
    "none": {},
}


@pytest.fixture
def api(tmp_path: Path):
    cfg = Settings(data_dir=tmp_path, api_token=TOKEN, max_concurrent_investigations=1)  # type: ignore[arg-type]
    service = Service(cfg, IdleRunner())
    service.approvals.add(  # something to find: the fuzzer also asks for real ids
        ApprovalRequest.create(
            ttl_s=3600,
            incident_id="inc-fuzz",
            tool="k8s_scale",
            args={"deployment": "predictor", "namespace": "market-predictor", "replicas": 4},
            target=Target(kind="Deployment", name="predictor", namespace="market-predictor"),
            risk="write",
        )
    )
    service.start()
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(service))
    service.stop()


def test_every_endpoint_with_and_without_a_token(api):
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 9  # webhook, health, ready, metrics, incidents x3, approvals x4

    @settings(
        max_examples=10 * (full_runs() or 1),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=st.data())
    def fuzz(op, data):
        case = data.draw(op.as_strategy())
        declared = {int(code) for code in op.definition.raw.get("responses", {}) if str(code).isdigit()}
        for who, headers in HEADERS.items():
            response = case.call(headers=headers)
            record(
                "fuzz",
                {
                    "target": f"api {case.method} {case.path}",
                    "auth": who,
                    "status": response.status_code,
                    "declared": response.status_code in declared,
                },
            )
            if response.status_code >= 500:  # only a declared dependency failure, and it says what failed
                assert response.status_code in declared, (
                    who,
                    case.method,
                    case.formatted_path,
                    response.text[:300],
                )
                body = response.json()
                assert body.get("detail") or body.get("problems"), (case.formatted_path, body)
            if case.path.startswith("/api/") and who != "valid":
                assert response.status_code == 401, (
                    who,
                    case.method,
                    case.formatted_path,
                    response.status_code,
                )

    for op in operations:
        fuzz(op)


def test_a_huge_list_limit_is_a_clear_422_not_a_crash(api):
    """Found by this fuzzer: ``limit=2**63`` overflowed SQLite's INTEGER and answered 500."""
    for limit in (2**63, 10**30, 0, -1):
        case = api["/api/incidents"]["GET"].Case(query={"limit": limit})
        response = case.call(headers=HEADERS["valid"])
        assert response.status_code == 422, (limit, response.text[:200])
        assert "limit" in response.text
    ok = api["/api/incidents"]["GET"].Case(query={"limit": 5}).call(headers=HEADERS["valid"])
    assert ok.status_code == 200
