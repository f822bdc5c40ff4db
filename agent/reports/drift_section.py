"""The compliance report's drift section: the objects that differ from the desired state now."""

from __future__ import annotations

from agent.reports.sections import Section, SectionContext

TOP = 15


def compliance_section(ctx: SectionContext) -> Section:
    """Each drifted object with the fields that differ (values masked as in ``devops-agent drift``)."""
    from agent.deps import build_tool_deps
    from agent.drift import run_check

    if ctx.settings is None or ctx.settings.desired_state is None:
        return Section(
            name="drift",
            title="Drift against desired state",
            status="unavailable",
            headline="no desired state configured (DEVOPS_AGENT_DESIRED_STATE)",
            lines=[
                "No desired state is configured, so drift was not checked (`DEVOPS_AGENT_DESIRED_STATE`)."
            ],
        )
    report = run_check(ctx.settings, build_tool_deps(ctx.settings)).as_dict()
    drifted = report["drifted"]
    lines = [
        f"{report['checked']} declared objects from {report['source']} checked against the cluster as it is now "
        "(`devops-agent drift`).",
        "",
    ]
    if drifted:
        lines += ["| object | state | fields |", "|---|---|---|"]
        for d in drifted[:TOP]:
            where = f"{d['namespace']}/" if d.get("namespace") else ""
            paths = [f["path"] for f in d["fields"]] + list(d["undeclared_fields"])
            lines.append(f"| {d['kind']} {where}{d['name']} | {d['state']} | {', '.join(paths[:6]) or '–'} |")
        if len(drifted) > TOP:
            lines.append(f"| … {len(drifted) - TOP} more | | |")
    else:
        lines.append("Every declared object matches the cluster.")
    lines += [f"- not checked: {ref}: {why}" for ref, why in report["errors"].items()]
    return Section(
        name="drift",
        title="Drift against desired state",
        status="attention" if drifted or report["errors"] else "ok",
        headline=f"{len(drifted)} of {report['checked']} declared objects drifted",
        lines=lines,
        data={"checked": report["checked"], "drifted": len(drifted), "errors": len(report["errors"])},
    )
