"""`devops-agent slo generate|check|status`: SLOs as code, their Prometheus rules, their budgets."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

from agent.cli import app
from agent.cli.common import console, fail, print_json, settings

slo_app = typer.Typer(
    help="SLOs as code: generate Prometheus rules, check specs, read error budgets.", no_args_is_help=True
)
app.add_typer(slo_app, name="slo")


def _specs(directory: Path | None) -> list:  # type: ignore[type-arg]
    from tools.slo.spec import SLOError, load_slo_dir

    where = directory or settings().slo_dir
    if where is None:
        fail("give the folder of SLO specs, or set DEVOPS_AGENT_SLO_DIR")
    try:
        return load_slo_dir(where)
    except SLOError as exc:
        fail(str(exc))


@slo_app.command("generate")
def generate(
    directory: Path | None = typer.Argument(
        None, help="Folder of SLO specs (default: DEVOPS_AGENT_SLO_DIR)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the rules here instead of stdout."),
    interval: str | None = typer.Option(
        None, "--interval", help="Evaluation interval of every group, e.g. 30s."
    ),
    alerts: bool = typer.Option(True, "--alerts/--no-alerts", help="Include the page and ticket alerts."),
) -> None:
    """Prometheus recording and multi-window multi-burn-rate alerting rules (Sloth's names)."""
    from tools.slo.rules import render_rules

    text = render_rules(_specs(directory), interval, alerts=alerts)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    console.print(f"wrote {out}")


@slo_app.command("check")
def check(
    directory: Path | None = typer.Argument(
        None, help="Folder of SLO specs (default: DEVOPS_AGENT_SLO_DIR)."
    ),
) -> None:
    """Validate the specs, then the generated rules with `promtool check rules` (when installed)."""
    from tools.slo.rules import render_rules

    specs = _specs(directory)
    count = sum(len(s.slos) for s in specs)
    promtool = shutil.which("promtool")
    if promtool is None:
        console.print(f"{count} SLOs in {len(specs)} specs are valid; promtool not found, rules not checked")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slo.yml"
        path.write_text(render_rules(specs))
        done = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
    if done.returncode != 0:
        fail(f"promtool rejects the generated rules:\n{done.stdout}{done.stderr}")
    console.print(f"{count} SLOs in {len(specs)} specs are valid; promtool check rules: SUCCESS")


@slo_app.command("status")
def status(
    service: str | None = typer.Option(None, "--service", "-s", help="Only this service's SLOs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Budget left, burn rates and time to exhaustion of every SLO, from Prometheus."""
    from agent.slo_budget import slo_report
    from tools.slo.status import BudgetStatus, status_table

    s = settings()
    try:
        report = slo_report(s, service)
    except RuntimeError as exc:
        fail(str(exc))
    if as_json:
        print_json(report)
        return
    if not report["slos"]:
        fail(
            f"no SLO series in Prometheus at {s.prometheus_url}"
            + (f" for service {service!r}" if service else "")
            + ": generate the rules with `devops-agent slo generate` and load them (rule_files)"
        )
    rows = [BudgetStatus(**r) for r in report["slos"]]
    typer.echo(status_table(rows))
