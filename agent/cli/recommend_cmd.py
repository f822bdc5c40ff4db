"""`devops-agent recommend`: requests and limits from usage history (KRR's semantics), their cost and
savings, and applying one through the guard."""

from __future__ import annotations

from typing import Any

import typer

from agent.cli import app
from agent.cli.common import console, fail, print_json, settings, whoami


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.2f}"


def _table(report: dict[str, Any]) -> str:
    from tools.kubernetes.shape import table
    from tools.rightsize.model import cpu_quantity, memory_quantity

    rows = []
    for w in report["workloads"]:
        cur, rec, cost = w["current"], w["recommended"], w["cost"]

        ok = w["status"] == "ok"

        def pair(
            key: str, fmt: Any, cur: dict[str, Any] = cur, rec: dict[str, Any] = rec, ok: bool = ok
        ) -> str:
            before = fmt(cur.get(key)) or "-"
            return f"{before} -> {fmt(rec.get(key)) or 'unset'}" if ok else before

        rows.append(
            (
                f"{w['namespace']}/{w['workload']}",
                w["container"],
                pair("cpu_request", cpu_quantity),
                pair("cpu_limit", cpu_quantity),
                pair("memory_request", memory_quantity),
                pair("memory_limit", memory_quantity),
                _money(cost["monthly"]),
                _money(cost["savings_monthly"]),
                w["reason"] or "; ".join(w["notes"]) or "ok",
            )
        )
    head = (
        "WORKLOAD",
        "CONTAINER",
        "CPU REQ",
        "CPU LIM",
        "MEM REQ",
        "MEM LIM",
        "COST/MO",
        "SAVES/MO",
        "NOTE",
    )
    lines = [table(head, rows), ""]
    for ns, t in sorted(report["namespaces"].items()):
        lines.append(
            f"{ns}: {_money(t['monthly'])}/month, {_money(t['wasted_monthly'])} of it requested and unused; "
            f"the recommendations save {_money(t['savings_monthly'])}/month"
        )
    idle = report.get("idle")
    if idle:
        lines.append(
            f"idle node capacity (allocatable, not requested): {idle['cpu']:.2f} vCPU, "
            f"{idle['memory'] / 1024**3:.1f} GiB, {_money(idle['monthly'])}/month"
        )
    p = report["prices"]
    lines.append(
        f"prices: {p['cpu_hour']} $/vCPU-hour, {p['gib_hour']} $/GiB-hour; history {report['history_hours']:g} h"
    )
    return "\n".join(lines)


@app.command("recommend")
def recommend_cmd(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only this namespace (default: all)."
    ),
    hours: float = typer.Option(
        336.0, "--hours", help="History to learn from, in hours (KRR's default: 336)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    apply: str | None = typer.Option(
        None,
        "--apply",
        help="Apply the recommendation of this deployment (NAME or NAME/CONTAINER) through the guard.",
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Approve a change the policy says needs a human (you are one)."
    ),
) -> None:
    """Right-size requests and limits from usage history, with cost and savings (OpenCost's prices)."""
    from agent.deps import build_tool_deps
    from agent.rightsize import recommendations
    from tools.errors import ToolError

    s = settings()
    try:
        report = recommendations(s, build_tool_deps(s), namespace, hours)
    except ToolError as exc:
        fail(str(exc))
    if apply is None:
        print_json(report) if as_json else typer.echo(_table(report))
        return
    name, _, container = apply.partition("/")
    chosen = [
        w
        for w in report["workloads"]
        if w["workload"] == name and (not container or w["container"] == container) and "action" in w
    ]
    if len(chosen) != 1:
        known = ", ".join(
            sorted({f"{w['workload']}/{w['container']}" for w in report["workloads"] if "action" in w})
        )
        fail(
            f"{apply!r} names {len(chosen)} recommendations; give NAME/CONTAINER of one of: {known or 'none'}"
        )
    _apply(s, chosen[0]["action"]["args"], yes, as_json)


def _apply(s: Any, args: dict[str, Any], yes: bool, as_json: bool) -> None:
    from agent.deps import build_deps
    from agent.rightsize import apply_through_guard

    out = apply_through_guard(build_deps(s), args, whoami(), approved=yes)
    if as_json:
        print_json(out)
    else:
        console.print(
            f"{out['status']}: " + (out.get("text") or "; ".join(out.get("reasons", []))), highlight=False
        )
        if out.get("diff"):
            console.print(out["diff"], highlight=False)
        if out["status"] == "needs_approval":
            console.print("re-run with --yes to approve it yourself", highlight=False)
    if out["status"] in ("deny", "failed", "needs_approval"):
        raise typer.Exit(1)
