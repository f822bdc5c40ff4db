"""Fuzzed inputs: the webhook payload, the policy file, the runbook format and the scenario format.

Every input either parses or is refused with the loader's own error (a 4xx for the webhook); never
another exception, never a 5xx. CI sends a few dozen cases per format; ``make campaign`` many more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.agent_harness import RUNBOOK
from fakes.campaign_out import full_runs, record
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.policy import PolicyError, load_policy
from agent.server.alerts import PayloadError, parse_payload
from agent.server.app import create_app
from agent.server.service import Service
from agent.settings import Settings
from evals.scenario import ScenarioError, load_scenarios
from knowledge.runbooks import RunbookError, parse_runbook

EXAMPLES = 40 * (full_runs() or 1) // (1 if full_runs() else 2)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)


def near(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with the format's own keys (each present or not) holding right or wrong values."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(v, json_values) for k, v in keys.items()})


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid document with one top-level field replaced by any value, or dropped, or kept."""

    def change(key: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.just(base),
            st.just({k: v for k, v in base.items() if k != key}),
            json_values.map(lambda v: {**base, key: v}),
        )

    return st.sampled_from(sorted(base)).flatmap(change)


VALID_PAYLOAD = {
    "version": "4",
    "groupKey": "g1",
    "status": "firing",
    "receiver": "agent",
    "groupLabels": {"alertname": "KubePodCrashLooping"},
    "commonLabels": {"alertname": "KubePodCrashLooping", "namespace": "market-predictor"},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "KubePodCrashLooping",
                "namespace": "market-predictor",
                "service": "predictor",
            },
            "annotations": {"summary": "x"},
            "fingerprint": "fp1",
            "startsAt": "2026-11-26T10:00:00Z",
        }
    ],
}
SCENARIO = (Path(__file__).resolve().parents[2] / "evals" / "scenarios" / "bad-deploy.yaml").read_text()

alert_dicts = near(
    {
        "status": st.sampled_from(["firing", "resolved", "FIRING", ""]),
        "labels": st.dictionaries(
            st.sampled_from(["alertname", "namespace", "service", "pod", "x"]), st.text(max_size=20)
        ),
        "annotations": st.dictionaries(st.text(max_size=10), st.text(max_size=30)),
        "startsAt": st.sampled_from(["2026-11-26T10:00:00Z", "yesterday", "0001-01-01T00:00:00Z", ""]),
        "endsAt": st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "x"]),
        "fingerprint": st.text(max_size=20),
    }
)
payloads = near(
    {
        "version": st.sampled_from(["4", "3", 4]),
        "groupKey": st.text(max_size=30),
        "status": st.sampled_from(["firing", "resolved", "other"]),
        "receiver": st.text(max_size=10),
        "groupLabels": st.dictionaries(st.text(max_size=10), st.text(max_size=10)),
        "commonLabels": st.dictionaries(st.text(max_size=10), st.text(max_size=10)),
        "alerts": st.lists(alert_dicts, max_size=4),
    }
)


class IdleRunner:
    """Answers every investigation at once with nothing to do (the webhook is under test, not the run)."""

    def investigate(self, **kw: Any) -> dict[str, Any]:
        return {"incident_id": kw.get("thread_id"), "status": "no_action_needed", "report": "# nothing"}

    def outcome(self, incident_id: str) -> dict[str, Any]:
        return {"incident_id": incident_id, "status": "no_action_needed", "report": "# nothing"}

    def interrupted(self, thread_id: str) -> bool:
        return False

    def claim(self, *a: Any, **k: Any) -> Any:
        raise AssertionError("no approval exists in the fuzzed service")

    resume = continue_run = claim


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fuzz-serve")
    settings_ = Settings(data_dir=tmp, api_token="fuzz-token", max_concurrent_investigations=1)  # type: ignore[arg-type]
    service = Service(settings_, IdleRunner())
    service.start()
    yield TestClient(create_app(service), raise_server_exceptions=False)
    service.stop()


@FUZZ
@given(body=st.one_of(mutated(VALID_PAYLOAD), payloads, json_values))
def test_webhook_payload_is_accepted_or_refused_with_a_4xx(client, body):
    parsed_ok = True
    try:
        parse_payload(body)
    except PayloadError:
        parsed_ok = False
    r = client.post("/webhook/alertmanager", content=json.dumps(body, allow_nan=True))
    record("fuzz", {"target": "webhook", "status": r.status_code})
    assert r.status_code < 500, r.text
    assert r.status_code == (200 if parsed_ok else 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]


@FUZZ
@given(raw=st.binary(max_size=300))
def test_webhook_raw_bytes_never_crash(client, raw):
    r = client.post("/webhook/alertmanager", content=raw)
    record("fuzz", {"target": "webhook-bytes", "status": r.status_code})
    assert r.status_code in (200, 400), r.text


policies = near(
    {
        "version": st.sampled_from([1, 2, "1"]),
        "default_autonomy": st.sampled_from(["observe", "suggest", "approve", "auto", "yolo"]),
        "clusters": st.lists(
            near(
                {
                    "context": st.text(max_size=10),
                    "autonomy": st.sampled_from(["auto", "none"]),
                    "namespaces": st.lists(
                        near({"match": st.text(max_size=10), "autonomy": st.sampled_from(["auto", "x"])}),
                        max_size=3,
                    ),
                }
            ),
            max_size=3,
        ),
        "guardrails": near(
            {
                "protected_namespaces": st.lists(st.text(max_size=10), max_size=3),
                "replicas": near(
                    {"min": st.integers(-5, 30), "max": st.integers(-5, 30), "max_step": st.integers(-1, 9)}
                ),
                "blast_radius": near(
                    {"auto_max_fraction": st.floats(-1, 2), "max_fraction": st.floats(-1, 2)}
                ),
                "freeze_windows": st.lists(
                    near(
                        {
                            "start": st.text(max_size=25),
                            "end": st.text(max_size=25),
                            "days": st.lists(st.sampled_from(["mon", "funday"])),
                            "from": st.text(max_size=8),
                        }
                    ),
                    max_size=2,
                ),
                "cooldown_s": st.integers(-10, 10**6),
                "approvers": st.lists(st.text(max_size=8), max_size=3),
            }
        ),
    }
)


@FUZZ
@given(doc=st.one_of(policies, json_values), text=st.text(max_size=200))
def test_policy_file_loads_or_says_why(tmp_path, doc, text):
    for content in (yaml.safe_dump(doc, allow_unicode=True), text):
        path = tmp_path / "policy.yaml"
        path.write_text(content)
        try:
            load_policy(path)
            outcome = "loaded"
        except PolicyError as exc:
            assert str(path) in str(exc)
            outcome = "refused"
        record("fuzz", {"target": "policy", "status": outcome})


runbook_meta = near(
    {
        "id": st.text(max_size=12),
        "title": st.text(max_size=20),
        "fault_class": st.text(max_size=12),
        "match": near(
            {
                "alerts": st.lists(st.text(max_size=10), max_size=3),
                "findings": st.lists(st.text(max_size=10), max_size=3),
            }
        ),
        "diagnostics": st.lists(
            near(
                {
                    "tool": st.sampled_from(["k8s_get", "nope"]),
                    "args": json_values,
                    "why": st.text(max_size=10),
                }
            ),
            max_size=3,
        ),
        "remediations": st.lists(
            near(
                {
                    "id": st.text(max_size=8),
                    "tool": st.sampled_from(["k8s_rollback", "k8s_scale", "rm"]),
                    "args": st.dictionaries(
                        st.text(max_size=8),
                        st.sampled_from(["{service}", "{finding.x.y}", "{", "{namespace|upper}", "1"]),
                    ),
                    "requires": st.lists(st.text(max_size=8), max_size=2),
                }
            ),
            max_size=3,
        ),
    }
)


@FUZZ
@given(
    meta=st.one_of(mutated(yaml.safe_load(RUNBOOK.split("---")[1])), runbook_meta, json_values),
    body=st.text(max_size=80),
    raw=st.text(max_size=200),
)
def test_runbook_parses_or_says_why(meta, body, raw):
    texts = [f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n{body}", raw, f"---\n{raw}"]
    for text in texts:
        try:
            parse_runbook(text, "fuzzed.md", tool_names=["k8s_get", "k8s_rollback", "k8s_scale"])
            outcome = "parsed"
        except RunbookError as exc:
            assert "fuzzed.md" in str(exc)
            outcome = "refused"
        record("fuzz", {"target": "runbook", "status": outcome})


scenario_docs = near(
    {
        "name": st.text(max_size=12),
        "description": st.text(max_size=20),
        "faults": st.lists(
            near({"fault": st.sampled_from(["bad-deploy", "none", "zzz"]), "target": st.text(max_size=10)}),
            max_size=2,
        ),
        "quiet_s": st.one_of(st.integers(-5, 100), st.floats()),
        "smoke": st.booleans(),
    }
)


@FUZZ
@given(
    doc=st.one_of(mutated(yaml.safe_load(SCENARIO)), scenario_docs, json_values), raw=st.text(max_size=200)
)
def test_scenario_file_loads_or_says_why(tmp_path, doc, raw):
    for i, content in enumerate((yaml.safe_dump(doc, allow_unicode=True), raw)):
        d = tmp_path / f"s{i}"
        d.mkdir(exist_ok=True)
        (d / "fuzzed.yaml").write_text(content)
        try:
            load_scenarios(directory=Path(d))
            outcome = "loaded"
        except ScenarioError as exc:
            assert "fuzzed.yaml" in str(exc)
            outcome = "refused"
        record("fuzz", {"target": "scenario", "status": outcome})
