"""The ``posture_check`` read tool: the posture of a namespace, for the reasoner and MCP clients."""

from __future__ import annotations

from collections import Counter

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import shaped
from tools.errors import expected_errors
from tools.kubernetes.common import Context
from tools.posture.fixes import proposals
from tools.posture.run import Report, run_checks
from tools.posture.sources import load_live

MAX_LINES = 25


def summary(report: Report) -> str:
    """A compact text: score per namespace, findings by check, the first failing objects."""
    lines = [
        f"posture: {report.objects} objects, {len(report.checks)} checks, {len(report.findings)} findings"
    ]
    for ns, s in sorted(report.scores.items()):
        lines.append(f"{ns}: score {s.score:g}/100 ({s.findings} findings)")
    by_check = Counter(f.check.id for f in report.findings)
    for f in report.findings[:MAX_LINES]:
        lines.append(f"[{f.check.severity}] {f.check.id} {f.as_dict()['object']}: {'; '.join(f.problems)}")
    if len(report.findings) > MAX_LINES:
        lines.append(
            f"... {len(report.findings) - MAX_LINES} more; by check: "
            + ", ".join(f"{k} x{v}" for k, v in by_check.most_common())
        )
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


@tool(risk="read", tags=("kubernetes", "posture"))
@expected_errors
def posture_check(deps: ToolDeps, namespace: str | None = None, context: Context = None) -> ToolResult:
    """Security posture findings (hardening, RBAC, PDBs) and a score per namespace.
    Example: posture_check(namespace="ns")"""
    report = run_checks(load_live(deps, namespace, context), namespace=namespace)
    data = report.as_dict() | {"fixes": proposals(report.findings)}
    if not report.objects:
        return ToolResult.no_data(f"no objects to check in {namespace or 'any namespace'}", data=data)
    return shaped(deps, "posture_check", summary(report), data)
