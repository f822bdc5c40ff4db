"""`devops-agent anomalies` and `devops-agent forecast`: the proactive checks from the terminal."""

from __future__ import annotations

from typing import Any

import typer

from agent.cli import app
from agent.cli.common import console, fail, print_json, settings, whoami


def _run(tool: Any, args: dict[str, Any]) -> Any:
    from agent.deps import build_tool_deps

    s = settings()
    result = tool.invoke(build_tool_deps(s), args)
    if result.status == "error":
        fail(result.text)
    return result


@app.command("anomalies")
def anomalies_cmd(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only this namespace (default: all)."
    ),
    days: int = typer.Option(14, "--days", help="History to build the seasonal baseline from (at least 8)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Golden signals now against their hour-of-week baseline; each finding names its baseline."""
    from tools.proactive.checks import detect_anomalies

    result = _run(detect_anomalies, {"namespace": namespace, "days": days})
    print_json(result.data or []) if as_json else typer.echo(result.text)


@app.command("forecast")
def forecast_cmd(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only this namespace (default: all)."
    ),
    horizon: int = typer.Option(72, "--horizon", help="Hours ahead to look."),
    days: int = typer.Option(14, "--days", help="History to learn from, in days."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    apply: str | None = typer.Option(
        None, "--apply", help="Apply the proposed change for this target (as listed) through the guard."
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Approve a change the policy says needs a human (you are one)."
    ),
) -> None:
    """Time to saturation of memory, CPU, disk and HPA replicas, and the pre-emptive change for each crossing."""
    from tools.proactive.checks import capacity_forecast

    result = _run(capacity_forecast, {"namespace": namespace, "horizon_hours": horizon, "days": days})
    if apply is None:
        print_json(result.data or []) if as_json else typer.echo(result.text)
        return
    chosen = [r for r in result.data or [] if r["target"] == apply and (r.get("proposal") or {}).get("tool")]
    if not chosen:
        fail(
            f"no proposed change for {apply!r}; targets with one: "
            + ", ".join(r["target"] for r in result.data or [] if (r.get("proposal") or {}).get("tool"))
            or "none"
        )
    from agent.deps import build_deps
    from agent.rightsize import apply_through_guard

    proposal = chosen[0]["proposal"]
    out = apply_through_guard(
        build_deps(settings()),
        proposal["args"],
        whoami(),
        approved=yes,
        action=proposal["tool"],
        reason=f"forecast: {chosen[0]['explanation']}",
    )
    print_json(out) if as_json else console.print(
        f"{out['status']}: " + (out.get("text") or "; ".join(out.get("reasons", []))), highlight=False
    )
    if out["status"] in ("deny", "failed", "needs_approval"):
        raise typer.Exit(1)
