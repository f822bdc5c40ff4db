"""The registry: the fixed tool names and risks of docs/CONTRACTS.md, and a schema budget."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from tools.budget import estimate_tokens
from tools.registry import Registry, default_registry

BUDGET = 3900
"""Tokens all tool schemas may cost the model together (pretty-printed; the wire is compact)."""

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"


def contract_table() -> dict[str, str]:
    """name -> risk, from the tools table of docs/CONTRACTS.md."""
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (read|write|destructive) \|", CONTRACTS.read_text(), flags=re.M)
    return dict(rows)


def test_registry_has_exactly_the_contract_tools_with_their_risks() -> None:
    registry = default_registry()
    expected = contract_table()
    assert len(expected) == 35
    assert {t.name: t.risk for t in registry.all()} == expected


def test_reads_and_actions_split_by_risk() -> None:
    registry = default_registry()
    assert all(t.risk == "read" for t in registry.read_tools())
    assert {t.name for t in registry.actions()} == {n for n, r in contract_table().items() if r != "read"}
    assert registry.get("k8s_rollback") is not None and registry.get("kubectl_exec") is None
    assert "triage" in registry and len(registry) == 35


def test_every_kubernetes_tool_takes_an_optional_context() -> None:
    for t in default_registry().all():
        if t.name.startswith("k8s_") or t.name in ("recent_changes", "what_changed", "triage"):
            params = t.openai_schema()["function"]["parameters"]
            assert "context" in params["properties"], t.name
            assert "context" not in params.get("required", []), t.name


def test_every_description_says_when_to_use_it_with_one_example_call() -> None:
    for t in default_registry().all():
        first, *rest = t.description.splitlines()
        assert len(first) > 20, t.name
        examples = [line for line in rest if line.startswith("Example: ")]
        assert len(examples) == 1 and examples[0].startswith(f"Example: {t.name}("), t.name


def test_all_schemas_together_cost_under_the_budget() -> None:
    schemas = default_registry().openai_schemas()
    assert len(schemas) == 35
    # 35 tools, pretty-printed (what_changed ~110, k8s_revert_change ~150; posture_check, k8s_set_pdb and
    # k8s_pin_image_digest ~300 together; drift ~70, desired_sync ~95)
    assert estimate_tokens(json.dumps(schemas)) < BUDGET


def test_fixed_choices_are_enums_and_dry_run_is_hidden() -> None:
    registry = default_registry()
    alerts = registry.get("prometheus_alerts")
    assert alerts is not None
    assert alerts.openai_schema()["function"]["parameters"]["properties"]["state"]["enum"] == [
        "firing",
        "pending",
        "all",
    ]
    for t in registry.actions():
        assert "dry_run" not in t.openai_schema()["function"]["parameters"]["properties"], t.name
        assert inspect.signature(t.func).parameters["dry_run"].kind is inspect.Parameter.KEYWORD_ONLY


def test_kind_accepts_kubectl_spellings() -> None:
    k8s_list = default_registry().get("k8s_list")
    assert k8s_list is not None
    for spelling in ("Deployment", "deploy", "deployments", "HorizontalPodAutoscaler", "hpa"):
        k8s_list.validate({"kind": spelling})
    result = k8s_list.invoke(None, {"kind": "gizmo"})  # type: ignore[arg-type]
    assert result.status == "error" and "kind" in result.text


def test_named_schemas_and_duplicate_names() -> None:
    registry = default_registry()
    names = [s["function"]["name"] for s in registry.openai_schemas(["triage", "nope", "k8s_get"])]
    assert names == ["triage", "k8s_get"]
    tool = registry.get("triage")
    assert tool is not None
    try:
        Registry([tool, tool])
    except ValueError as exc:
        assert "twice" in str(exc)
    else:
        raise AssertionError("a duplicate tool name must be refused")
