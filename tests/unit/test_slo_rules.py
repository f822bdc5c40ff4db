"""The SLO spec and the rule generator: validation errors, and the rules against Sloth's own output.

tests/fixtures/sloth/getting-started.gen.yml is Sloth's generated file for its getting-started
example, reproduced; getting-started.yml is that example's input. We compare, rule by rule: the
group names and their order, each rule's record/alert name, its labels (all of them; only
``sloth_version`` differs: Sloth writes its own version), its annotations, and its PromQL with
whitespace collapsed (so the SLI ratios, the period mean, the burn factors, the budget constant
and the window pairs must be the same expressions).

One deliberate difference: Sloth labels the period rule (``slo:sli_error:ratio_rate30d``) with
``sloth_window`` alone, so two SLOs in one file are duplicate rules to ``promtool check rules``; ours
also carries the SLO's ids there (the series it records is the same: sum_over_time keeps them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tools.slo.rules import render_rules, rule_groups
from tools.slo.spec import SLOError, load_slo_dir, parse_slo_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sloth"


def _flat(expr: str) -> str:
    return re.sub(r"\s+", " ", expr).strip()


def _ours() -> list[dict]:
    spec = parse_slo_file((FIXTURES / "getting-started.yml").read_text(), "getting-started.yml")
    return yaml.safe_load(render_rules([spec]))["groups"]


def _sloth() -> list[dict]:
    return yaml.safe_load((FIXTURES / "getting-started.gen.yml").read_text())["groups"]


def test_groups_and_rule_names_match_sloth() -> None:
    ours, sloth = _ours(), _sloth()
    assert [g["name"] for g in ours] == [g["name"] for g in sloth]
    for a, b in zip(ours, sloth, strict=True):
        assert [r.get("record") or r.get("alert") for r in a["rules"]] == [
            r.get("record") or r.get("alert") for r in b["rules"]
        ]


def test_every_expression_label_and_annotation_matches_sloth() -> None:
    for a, b in zip(_ours(), _sloth(), strict=True):
        for ours, theirs in zip(a["rules"], b["rules"], strict=True):
            name = ours.get("record") or ours.get("alert")
            assert _flat(ours["expr"]) == _flat(theirs["expr"]), name
            ours_labels = {k: v for k, v in ours.get("labels", {}).items() if k != "sloth_version"}
            if name == "slo:sli_error:ratio_rate30d":
                assert ours_labels.pop("sloth_id") == "myservice-requests-availability"
                assert {ours_labels.pop("sloth_service"), ours_labels.pop("sloth_slo")} == {
                    "myservice",
                    "requests-availability",
                }
            theirs_labels = {k: v for k, v in theirs.get("labels", {}).items() if k != "sloth_version"}
            assert ours_labels == theirs_labels, name
            assert ours.get("annotations") == theirs.get("annotations"), name


def test_page_and_ticket_windows_and_factors() -> None:
    alerts = [r for g in _ours() for r in g["rules"] if "alert" in r]
    pairs = {
        r["labels"]["sloth_severity"]: re.findall(r"ratio_rate(\w+)\{[^}]*\} > \(([\d.]+) \*", r["expr"])
        for r in alerts
    }
    assert pairs == {
        "page": [("5m", "14.4"), ("1h", "14.4"), ("30m", "6"), ("6h", "6")],
        "ticket": [("2h", "3"), ("1d", "3"), ("6h", "1"), ("3d", "1")],
    }


def test_disabled_alerts_and_custom_window(tmp_path: Path) -> None:
    text = (FIXTURES / "getting-started.yml").read_text().replace("name: MyServiceAvailabilitySLO", "name: X")
    raw = yaml.safe_load(text)
    raw["slos"][0]["window"] = "28d"
    raw["slos"][0]["alerting"]["page_alert"]["disable"] = True
    spec = parse_slo_file(yaml.safe_dump(raw), "x.yml")
    groups = rule_groups([spec], interval="30s")
    assert all(g["interval"] == "30s" for g in groups)
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert [a["labels"]["sloth_severity"] for a in alerts] == ["ticket"]
    records = [r["record"] for g in groups for r in g["rules"] if "record" in r]
    assert "slo:sli_error:ratio_rate28d" in records
    assert "vector(28)" in [r["expr"] for g in groups for r in g["rules"]]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda r: r["slos"][0].update(objective=100), "slos.0.objective", "less than 100"),
        (
            lambda r: r["slos"][0]["sli"]["events"].update(total_query="sum(rate(x[5m]))"),
            "slos.0.sli.events.total_query",
            "{{.window}}",
        ),
        (lambda r: r["slos"][0].update(window="36h"), "slos.0.window", "whole days"),
        (lambda r: r["slos"][0].update(colour="red"), "slos.0.colour", "Extra inputs"),
        (lambda r: r["slos"][0]["alerting"].pop("name"), "slos.0.alerting", "alerting.name is required"),
        (lambda r: r.update(slos=[r["slos"][0], r["slos"][0]]), "(top)", "repeated: requests-availability"),
    ],
)
def test_invalid_spec_names_file_and_field(change, field: str, reason: str) -> None:
    raw = yaml.safe_load((FIXTURES / "getting-started.yml").read_text())
    change(raw)
    with pytest.raises(SLOError) as err:
        parse_slo_file(yaml.safe_dump(raw), "specs/myservice.yml")
    message = str(err.value)
    assert message.startswith("specs/myservice.yml: invalid SLO spec")
    assert f"{field}:" in message and reason in message


def test_directory_refuses_a_service_defined_twice(tmp_path: Path) -> None:
    text = (FIXTURES / "getting-started.yml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yml").write_text(text)
    with pytest.raises(SLOError, match=r"b\.yml: service 'myservice' is already defined in .*a\.yaml"):
        load_slo_dir(tmp_path)
    with pytest.raises(SLOError, match="SLO directory not found"):
        load_slo_dir(tmp_path / "missing")
