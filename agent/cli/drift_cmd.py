"""`devops-agent drift`: how the cluster differs from the desired state, and the way back (sync) or
forward (adopt) for each drifted object."""

from __future__ import annotations

from typing import Any

import typer

from agent.cli import app
from agent.cli.common import console, fail, print_json, settings, whoami


def _text(report: Any, plan: list[dict[str, Any]]) -> str:
    from tools.desired.drift import render_text

    lines = [render_text(report)]
    for p in plan:
        sync = p["sync"]["args"]
        target = f"{sync['kind']}/{sync['name']}" + (
            f" -n {sync['namespace']}" if "namespace" in sync else ""
        )
        way = f"  {p['object']}: sync with `devops-agent drift --sync {target}`"
        if p["adopt"]:
            way += f", or adopt into {p['adopt']} with `devops-agent drift --adopt`"
        lines.append(way)
    return "\n".join(lines)


@app.command("drift")
def drift_cmd(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only objects declared in this namespace (default: all)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    adopt: bool = typer.Option(
        False,
        "--adopt",
        help="Write a patch of the desired files for each drifted object (DATA_DIR/drift/adopt/), for review.",
    ),
    sync: str | None = typer.Option(
        None, "--sync", help="Sync this object (KIND/NAME, with -n) back to desired through the guard."
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Approve a sync the policy says needs a human (you are one)."
    ),
) -> None:
    """Drift of the cluster from the desired state (DEVOPS_AGENT_DESIRED_STATE), field by field."""
    from agent.deps import build_tool_deps
    from agent.drift import adopt as adopt_all
    from agent.drift import proposals, run_check
    from tools.errors import ToolError

    s = settings()
    if sync is not None:
        _sync(s, sync, namespace, yes, as_json)
        return
    tool_deps = build_tool_deps(s)
    try:
        report = run_check(s, tool_deps, namespace)
        written = adopt_all(s, tool_deps, report) if adopt else {}
    except ToolError as exc:
        fail(str(exc))
    plan = proposals(report, s)
    if as_json:
        print_json(report.as_dict() | {"proposals": plan, "adopted": written})
    else:
        console.print(_text(report, plan), highlight=False, markup=False)
        for ref, where in written.items():
            console.print(f"adopt {ref}: {where}", highlight=False, markup=False)
    if report.errors:
        raise typer.Exit(1)


def _sync(s: Any, target: str, namespace: str | None, yes: bool, as_json: bool) -> None:
    from agent.deps import build_deps
    from agent.drift import sync

    kind, _, name = target.partition("/")
    if not kind or not name:
        fail(f"--sync takes KIND/NAME (for example ConfigMap/api-config), not {target!r}")
    args: dict[str, Any] = {"kind": kind, "name": name}
    if namespace:
        args["namespace"] = namespace
    out = sync(build_deps(s), args, whoami(), approved=yes)
    if as_json:
        print_json(out)
    else:
        console.print(
            f"{out['status']}: " + (out.get("text") or "; ".join(out.get("reasons", []))),
            highlight=False,
            markup=False,
        )
        if out.get("diff"):
            console.print(out["diff"], highlight=False, markup=False)
        if out["status"] == "needs_approval":
            console.print("re-run with --yes to approve it yourself", highlight=False)
    if out["status"] in ("deny", "failed", "needs_approval"):
        raise typer.Exit(1)
