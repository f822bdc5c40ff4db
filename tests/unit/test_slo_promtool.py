"""The generated SLO rules in a real Prometheus rule engine: ``promtool check rules`` accepts them,
and ``promtool test rules`` fires the burn alerts at the windows the SRE workbook gives.

The series are synthetic counters, one sample a minute, for Sloth's getting-started SLO (99.9%,
budget 0.1%): the page alert needs 14.4x (1.44% errors) over 1h and 5m or 6x over 6h and 30m, the
ticket 3x over 1d and 2h or 1x over 3d and 6h.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.slo.rules import render_rules, rule_groups
from tools.slo.spec import load_slo_dir, parse_slo_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sloth"
REPO = Path(__file__).parents[2]
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: run scripts/setup.sh")
SERIES = 'http_request_duration_seconds_count{{job="myservice",code="{code}"}}'


def _spec() -> Any:
    return parse_slo_file((FIXTURES / "getting-started.yml").read_text(), "getting-started.yml")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


def _counter(per_minute: list[int]) -> str:
    """Explicit cumulative values, one a minute, starting at 0."""
    total, values = 0, ["0"]
    for inc in per_minute:
        total += inc
        values.append(str(total))
    return " ".join(values)


def _series(minutes: list[tuple[int, int]]) -> list[dict[str, str]]:
    """``minutes``: (good, bad) requests in each minute."""
    return [
        {"series": SERIES.format(code="200"), "values": _counter([g for g, _ in minutes])},
        {"series": SERIES.format(code="500"), "values": _counter([b for _, b in minutes])},
    ]


def _expected(severity: str, window: str) -> dict[str, Any]:
    """The alert as Prometheus would show it: the rule's labels plus those of the SLI series."""
    alert = next(
        r
        for g in rule_groups([_spec()])
        for r in g["rules"]
        if r.get("labels", {}).get("sloth_severity") == severity
    )
    sli = next(
        r
        for g in rule_groups([_spec()])
        for r in g["rules"]
        if r.get("record") == f"slo:sli_error:ratio_rate{window}"
    )
    labels = {**sli["labels"], **alert["labels"]}
    values = {"$labels.sloth_service": labels["sloth_service"], "$labels.sloth_slo": labels["sloth_slo"]}
    annotations = {}
    for k, v in alert["annotations"].items():
        for placeholder, value in values.items():
            v = v.replace("{{" + placeholder + "}}", value)
        annotations[k] = v
    return {"exp_labels": labels, "exp_annotations": annotations}


def _run(tmp_path: Path, minutes: list[tuple[int, int]], checks: dict[int, list[tuple[str, str]]]) -> None:
    """``checks``: minute -> the alerts firing then, as (severity, the window of the pair that fired)."""
    (tmp_path / "slo.yml").write_text(render_rules([_spec()]))
    tests = [
        {
            "eval_time": f"{at}m",
            "alertname": "MyServiceAvailabilitySLO",
            "exp_alerts": [_expected(s, w) for s, w in fired],
        }
        for at, fired in checks.items()
    ]
    doc = {
        "rule_files": ["slo.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": _series(minutes), "alert_rule_test": tests}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(doc, sort_keys=False, width=10_000))
    out = _promtool("test", "rules", str(tmp_path / "test.yml"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_generated_rules_pass_promtool_check(tmp_path: Path) -> None:
    sandbox_specs = load_slo_dir(REPO / "sandbox" / "slos")
    for name, specs in (("fixture.yml", [_spec()]), ("sandbox.yml", sandbox_specs)):
        (tmp_path / name).write_text(render_rules(specs, interval="30s"))
        out = _promtool("check", "rules", str(tmp_path / name))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "SUCCESS" in out.stdout + out.stderr


def test_promtool_check_catches_a_broken_query(tmp_path: Path) -> None:
    """The check above can fail: a query that does not parse is refused."""
    raw = yaml.safe_load((FIXTURES / "getting-started.yml").read_text())
    raw["slos"][0]["sli"]["events"]["error_query"] = "sum(rate(x[{{.window}}])"
    (tmp_path / "bad.yml").write_text(render_rules([parse_slo_file(yaml.safe_dump(raw), "bad.yml")]))
    assert _promtool("check", "rules", str(tmp_path / "bad.yml")).returncode != 0


def test_fast_burn_pages_within_minutes_of_the_errors(tmp_path: Path) -> None:
    """An hour clean, then half of the requests fail: no alert before, a page (and a ticket) after."""
    minutes = [(600, 0)] * 60 + [(300, 300)] * 10
    _run(
        tmp_path,
        minutes,
        {59: [], 65: [("page", "5m"), ("ticket", "2h")]},
    )


def test_a_slow_burn_opens_a_ticket_but_never_pages(tmp_path: Path) -> None:
    """0.5% errors for 4 hours is 5x the budget: above the ticket's 3x, below the page's 6x."""
    minutes = [(995, 5)] * 240
    _run(
        tmp_path,
        minutes,
        {30: [("ticket", "2h")], 240: [("ticket", "2h")]},
    )


def test_the_page_resolves_once_the_short_windows_are_clean(tmp_path: Path) -> None:
    """Ten minutes of 50% errors: still paging 20 minutes on (the 6h/30m pair), quiet once the 30m
    window is clean, while the ticket stays open (the 2h window still holds the errors)."""
    minutes = [(600, 0)] * 60 + [(300, 300)] * 10 + [(600, 0)] * 45
    _run(
        tmp_path,
        minutes,
        {90: [("page", "30m"), ("ticket", "2h")], 105: [("ticket", "2h")]},
    )
