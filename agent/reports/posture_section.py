"""The compliance report's posture section: the live cluster's checks and score per namespace."""

from __future__ import annotations

from agent.reports.sections import Section, SectionContext

TOP = 10


def compliance_section(ctx: SectionContext) -> Section:
    """Scores per namespace and the most severe findings, from the cluster as it is now."""
    from agent.deps import build_tool_deps
    from tools.posture.run import run_checks
    from tools.posture.sources import load_live

    report = run_checks(load_live(build_tool_deps(ctx.settings), None)).as_dict()
    spaces = report["namespaces"]
    findings = report["findings"]
    severe = [f for f in findings if f["severity"] in ("critical", "high")]
    worst = min((s["score"] for s in spaces.values()), default=100.0)
    lines = [
        f"{report['objects']} objects checked against {report['checks']} checks (`devops-agent posture`), "
        "as the cluster is now.",
        "",
        "| namespace | score | findings |",
        "|---|---|---|",
        *[f"| {ns} | {s['score']:g} | {s['findings']} |" for ns, s in spaces.items()],
    ]
    if severe:
        lines += ["", f"Most severe ({len(severe)} critical or high):", ""]
        lines += [
            f"- {f['severity']} `{f['check']}` {f['object']}: {'; '.join(f['problems'])}"
            for f in severe[:TOP]
        ]
    lines += [f"- note: {n}" for n in report["notes"]]
    return Section(
        name="posture",
        title="Security posture",
        status="attention" if severe else "ok",
        headline=f"lowest namespace score {worst:g}/100, {len(severe)} critical or high findings",
        lines=lines,
        data={"namespaces": spaces, "findings": len(findings), "severe": len(severe)},
    )
