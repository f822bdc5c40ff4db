"""`devops-agent posture`: the security posture of live objects or manifest files, as text, JSON
or SARIF, and the fixes safe to automate proposed through the guard."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from agent.cli import app
from agent.cli.common import console, fail, print_json, settings, whoami


class Format(StrEnum):
    """What --format prints."""

    text = "text"
    json = "json"
    sarif = "sarif"


def _text(report: dict[str, Any]) -> str:
    from tools.kubernetes.shape import table

    lines = [
        f"{report['objects']} objects, {report['checks']} checks, {len(report['findings'])} findings",
        "",
    ]
    for ns, s in report["namespaces"].items():
        lines.append(f"{ns}: score {s['score']:g}/100 ({s['findings']} findings)")
    rows = [(f["severity"], f["check"], f["object"], "; ".join(f["problems"])) for f in report["findings"]]
    if rows:
        lines += ["", table(("SEVERITY", "CHECK", "OBJECT", "PROBLEM"), rows)]
    fixable = [f for f in report["findings"] if f["fixable"]]
    if fixable:
        lines += ["", f"{len(fixable)} findings have a fix safe to automate: run with --fix to propose them"]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def _print_fixes(outcomes: list[dict[str, Any]]) -> None:
    if not outcomes:
        console.print("no fix to propose: no live Deployment fails a check with a safe fix", highlight=False)
    for o in outcomes:
        where = f"{o['args']['namespace']}/{o['args']['deployment']}"
        head = f"{o['status']}: {o['tool']} on {where}"
        if o["status"] == "pending_approval":
            console.print(f"{head}: approval {o['approval_id']}", highlight=False, markup=False)
            console.print(f"  {o['diff'] or o['text']}", highlight=False, markup=False)
        else:
            console.print(f"{head}: {o['text']}", highlight=False, markup=False)
        if o["reasons"]:
            console.print("  why: " + "; ".join(o["reasons"]), highlight=False, markup=False)


@app.command("posture")
def posture_cmd(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only this namespace (default: all)."
    ),
    manifests: Path | None = typer.Option(
        None, "--manifests", help="Check the YAML files under this directory instead of the live cluster."
    ),
    fmt: Format = typer.Option(Format.text, "--format", help="text, json or sarif (SARIF 2.1.0)."),
    fix: bool = typer.Option(
        False, "--fix", help="Propose the fixes safe to automate (PDB, digest pin) through the guard."
    ),
    apply: str | None = typer.Option(
        None, "--apply", help="Apply a posture fix a human approved (its approval id), once."
    ),
) -> None:
    """Security posture (pod hardening, resources, images, host access, RBAC, secrets) with a score."""
    from tools.errors import ToolError
    from tools.posture.run import run_checks
    from tools.posture.sources import load_live, load_manifests

    if apply is not None:
        _apply(apply)
        return
    if fix and manifests is not None:
        fail(
            "--fix changes the live cluster; it cannot be combined with --manifests (edit the files instead)"
        )
    s = settings()
    try:
        if manifests is not None:
            inv = load_manifests(manifests)
        else:
            from agent.deps import build_tool_deps

            inv = load_live(build_tool_deps(s), namespace)
    except ToolError as exc:
        fail(str(exc))
    report = run_checks(inv, namespace=namespace)
    if fix:
        _fix(s, report)
        return
    if fmt is Format.sarif:
        from importlib.metadata import version

        from tools.posture.sarif import to_sarif

        typer.echo(json.dumps(to_sarif(report, version("devops-agent")), indent=2))
    elif fmt is Format.json:
        from tools.posture.fixes import proposals

        print_json(report.as_dict() | {"fixes": proposals(report.findings) if inv.live else []})
    else:
        typer.echo(_text(report.as_dict()))


def _fix(s: Any, report: Any) -> None:
    from agent.deps import build_deps
    from agent.posture import propose_fixes
    from tools.posture.fixes import proposals

    outcomes = propose_fixes(build_deps(s), proposals(report.findings), whoami())
    _print_fixes(outcomes)
    pending = [o["approval_id"] for o in outcomes if o["status"] == "pending_approval"]
    if pending:
        console.print(
            f"{len(pending)} waiting for a human: devops-agent approvals approve ID, then devops-agent posture --apply ID",
            highlight=False,
        )
    if any(o["status"] in ("denied", "failed") for o in outcomes):
        raise typer.Exit(1)


def _apply(approval_id: str) -> None:
    from agent.approvals import ApprovalError
    from agent.deps import build_deps
    from agent.posture import apply_approved

    try:
        out = apply_approved(build_deps(settings()), approval_id, whoami())
    except ApprovalError as exc:
        fail(str(exc))
    text = out["text"] if out["text"].startswith(out["status"]) else f"{out['status']}: {out['text']}"
    console.print(text, highlight=False, markup=False)
    if out["reasons"]:
        console.print("why: " + "; ".join(out["reasons"]), highlight=False, markup=False)
    if out["status"] in ("denied", "failed"):
        raise typer.Exit(1)
