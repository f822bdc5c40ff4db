"""The reasoner interface: given the state of a run, decide the next step.

Two implementations sit behind it — the LLM (``agent.reasoners.llm``) and the offline runbook
planner (``agent.reasoners.planner``). Both ask for the same tool calls and propose changes the same
way; the reason node checks every call (unknown tool, malformed arguments, repeated call) before
anything runs, so neither reasoner can bypass loop safety or the guard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agent.state import AgentState, RunStatus
from tools.base import Tool

StepKind = Literal["call_tools", "propose", "finish", "abort"]

CHANGE_KINDS = frozenset({"recent_rollout", "config_changed", "node_cordoned", "suspect_change"})
"""Finding kinds that describe a change, not a symptom (a rollback is itself a recent rollout)."""


_SERVICE_KEYS = ("deployment", "service", "upstream", "deployments")


def mentions(finding: dict[str, Any], service: str) -> bool:
    """The finding is about ``service`` (its target, or a deployment/service/upstream in its data)."""
    data = finding.get("data") or {}
    for key in _SERVICE_KEYS:
        value = data.get(key)
        if value == service or (isinstance(value, list) and service in value):
            return True
    return str(finding.get("target", "")).rsplit("/", 1)[-1] == service


def scoped(findings: list[dict[str, Any]], services: Sequence[str | None]) -> list[dict[str, Any]]:
    """The findings about these services when there are symptoms among them; else all of them.

    Triage covers the whole namespace; a neighbour's rollout, config change or noise must not decide
    what applies to this service, nor whether a change to it worked.
    """
    names = [s for s in services if s]
    if not names:
        return findings
    mine = [f for f in findings if any(mentions(f, s) for s in names)]
    return mine if any(is_symptom(f) for f in mine) else findings


def is_symptom(finding: dict[str, Any]) -> bool:
    """A warning or critical finding that is not merely a change."""
    return finding.get("severity") in ("warning", "critical") and finding.get("kind") not in CHANGE_KINDS


@dataclass
class ToolCall:
    """One tool call a reasoner asks for. ``args`` is None when the arguments could not be parsed."""

    id: str
    tool: str
    args: dict[str, Any] | None
    args_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tool": self.tool, "args": self.args or {}}


@dataclass
class Step:
    """What a reasoner wants next.

    - ``call_tools``: run ``calls`` (read tools run directly; the first write tool becomes a proposal).
    - ``propose``: consider ``action`` (tool, args, reason, remediation, expected) as a change.
    - ``finish``: the final ``answer`` (and ``root_cause``; ``status`` hints how the run ended).
    - ``abort``: stop now because of ``stop_reason`` (e.g. the LLM endpoint failed).
    """

    kind: StepKind
    calls: list[ToolCall] = field(default_factory=list)
    action: dict[str, Any] | None = None
    answer: str | None = None
    root_cause: str | None = None
    status: RunStatus | None = None
    stop_reason: str | None = None
    message: dict[str, Any] | None = None
    """The assistant message to append to the conversation (LLM only)."""
    tokens: int = 0
    """Tokens this step used (prompt + completion)."""
    updates: dict[str, Any] = field(default_factory=dict)
    """Other state updates the reasoner keeps (the planner's ``plan``)."""


class ToolCatalog(Protocol):
    """What reasoners need from the tool registry."""

    def get(self, name: str) -> Tool | None: ...

    def all(self) -> Sequence[Tool]: ...


@dataclass
class ReasonContext:
    """Everything a reasoner may use besides the state."""

    tools: ToolCatalog
    runbooks: Sequence[Any] = ()
    """``knowledge.runbooks.Runbook`` objects (empty when none could be loaded)."""
    stats: Any | None = None
    """``knowledge.learning.OutcomeStats`` or None when learning is unavailable."""
    on_token: Callable[[str], None] | None = None
    """Called with each streamed piece of the answer (chat)."""


class Reasoner(Protocol):
    """Decides the next step of a run."""

    name: str

    def next_step(self, state: AgentState, ctx: ReasonContext) -> Step:
        """The next step; must not raise for expected failures (return ``abort`` instead)."""
        ...
