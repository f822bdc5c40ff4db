"""The ``what_changed`` tool: field-level changes of a namespace or an object since a time."""

from __future__ import annotations

from tools.base import ToolDeps, ToolResult, tool
from tools.budget import CHARS_PER_TOKEN, shaped
from tools.errors import expected_errors
from tools.journal.query import changes_for, parse_object, parse_since
from tools.journal.shape import render
from tools.kubernetes.common import Context


@tool(risk="read", tags=("kubernetes",))
@expected_errors
def what_changed(
    deps: ToolDeps,
    namespace: str | None = None,
    since: str = "1h",
    object: str | None = None,
    context: Context = None,
) -> ToolResult:
    """Field diffs of what changed, who and when (workloads, services, config, secrets, HPA, nodes).
    Example: what_changed(namespace="ns", since="30m", object="svc/api")"""
    start = parse_since(since)
    objects = [parse_object(object)] if object else None
    changes = changes_for(deps, namespace, start, objects, context=context)
    scope = f"{object + ' in ' if object else ''}{namespace or 'all namespaces'}"
    when = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not changes:
        return ToolResult.no_data(f"no changes to {scope} since {when} ({since})")
    body, shown = render(changes, max(deps.token_budget * CHARS_PER_TOKEN - 400, 400))
    head = f"{len(changes)} change(s) to {scope} since {when} ({since}), newest first"
    if shown < len(changes):
        head += f"; showing {shown} of {len(changes)} (narrow with object= or a later since=)"
    data = {"changes": [c.as_dict() for c in changes], "shown": shown, "total": len(changes)}
    return shaped(deps, "what_changed", f"{head}\n{body}", data)
