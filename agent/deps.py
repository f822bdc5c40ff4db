"""Everything a run needs, built once from the settings and passed to the graph as its runtime context.

Nodes receive :class:`AgentDeps` through LangGraph's ``Runtime.context``; tests hand in their own
(fake tool registries, a scripted reasoner, a fake clock). Memory and learning are optional seams:
when they cannot open, the run carries on and says ``memory unavailable: <reason>``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.approvals import ApprovalStore
from agent.audit import AuditLog
from agent.policy import Policy, load_policy
from agent.reasoners.base import Reasoner, ToolCatalog
from agent.settings import Settings
from tools.base import ToolDeps


def utcnow() -> datetime:
    return datetime.now(UTC)


class MemorySeam:
    """Opens incident memory and outcome statistics on first use; remembers why they failed.

    It also keeps the runbook index in step with the loaded runbooks: on opening (and whenever the
    runbooks change) it calls ``index_runbooks``, which re-embeds only the runbooks that changed.
    """

    def __init__(self, settings: Settings, runbooks: Sequence[Any] = ()) -> None:
        self._settings = settings
        self.runbooks: list[Any] = list(runbooks)
        self._memory: Any | None = None
        self._stats: Any | None = None
        self._opened = False
        self._lock = threading.Lock()
        self.note: str | None = None

    def _open(self) -> None:
        with self._lock:  # serve runs investigations in threads: open once, and let the others wait
            if not self._opened:
                self._open_now()
                self._opened = True

    def _open_now(self) -> None:
        s = self._settings
        try:
            from knowledge.embeddings import make_embedder
            from knowledge.memory import IncidentMemory

            embedder = make_embedder(
                s.embedding,
                model=s.embedding_model,
                base_url=s.effective_llm_base_url,
                api_key=s.effective_llm_api_key,
            )
            self._memory = IncidentMemory.open(s.data_dir, s.chroma_url, embedder)
        except Exception as exc:  # memory is optional: the run goes on without it and says why
            self.note = f"memory unavailable: {type(exc).__name__}: {exc}"
        self._index()
        try:
            from knowledge.learning import OutcomeStats

            self._stats = OutcomeStats(s.path("outcomes.sqlite"))
        except Exception as exc:
            self.note = (self.note + "; " if self.note else "") + f"learning unavailable: {exc}"

    def _index(self) -> None:
        """Index the runbooks for search; a failure only costs search (the note says so)."""
        if self._memory is None or not self.runbooks:  # never wipe the index for want of runbooks
            return
        try:
            self._memory.index_runbooks(self.runbooks)
        except Exception as exc:
            self.note = (self.note + "; " if self.note else "") + f"runbook index unavailable: {exc}"

    def use_runbooks(self, runbooks: Sequence[Any]) -> None:
        """Serve these runbooks from now on (indexed now if memory is open, else when it opens)."""
        with self._lock:
            changed = list(runbooks) != self.runbooks
            self.runbooks = list(runbooks)
            if changed and self._opened:
                self._index()

    @property
    def memory(self) -> Any | None:
        self._open()
        return self._memory

    @property
    def stats(self) -> Any | None:
        self._open()
        return self._stats


@dataclass
class AgentDeps:
    """Clients, stores and limits for one process; shared by every run it starts."""

    settings: Settings
    tools: ToolCatalog
    tool_deps: ToolDeps
    policy: Policy
    audit: AuditLog
    approvals: ApprovalStore
    reasoner: Reasoner
    knowledge: MemorySeam
    runbooks: Sequence[Any] = ()
    runbook_note: str | None = None
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # ``dataclasses.replace(deps, runbooks=...)`` (tests, evals) must reach the runbook index and
        # the knowledge tools too: they read the seam's runbooks
        self.knowledge.use_runbooks(self.runbooks)

    @property
    def memory(self) -> Any | None:
        return self.knowledge.memory

    @property
    def stats(self) -> Any | None:
        return self.knowledge.stats


def build_tool_deps(settings: Settings) -> ToolDeps:
    """The tools' dependency object (clients are created lazily on first use)."""
    from tools.deps import Deps

    return Deps(
        kubeconfig=settings.kubeconfig,
        kube_context=settings.kube_context,
        prometheus_url=settings.prometheus_url,
        loki_url=settings.loki_url,
        http_timeout_s=settings.http_timeout_s,
        token_budget=settings.tool_output_tokens,
        raw_dir=settings.path("raw"),
        journal_path=settings.effective_journal_path,
        desired_state=settings.desired_state,
        desired_ref=settings.desired_ref,
        drift_ignored_managers=tuple(settings.drift_ignored_managers),
        default_namespace=settings.default_namespace,
    )


def build_reasoner(settings: Settings, llm_client: Any | None = None) -> Reasoner:
    """The LLM when an endpoint is configured (or forced), else the offline planner."""
    if settings.use_llm:
        from agent.reasoners.llm import LLMReasoner

        return LLMReasoner(settings, client=llm_client)
    from agent.reasoners.planner import PlannerReasoner

    return PlannerReasoner()


def load_agent_runbooks(settings: Settings, tool_names: Sequence[str]) -> tuple[list[Any], str | None]:
    """Packaged runbooks plus ``settings.runbooks_dir`` (default ``DATA_DIR/runbooks``, where
    ``knowledge add-runbook`` puts them); a broken runbook is reported, not fatal."""
    try:
        from knowledge.runbooks import load_runbooks

        dirs = [settings.runbooks_dir or settings.data_dir / "runbooks"]
        return list(load_runbooks(dirs, tool_names=tool_names)), None
    except Exception as exc:
        return [], f"runbooks unavailable: {exc}"


def with_knowledge_tools(tools: ToolCatalog, seam: MemorySeam) -> ToolCatalog:
    """The catalog plus ``search_runbooks`` and ``recall_incidents`` (agent-side: tools/ never
    imports knowledge/); a catalog that already has one of them keeps its own."""
    from agent.knowledge_tools import knowledge_tools
    from tools.registry import Registry

    extra = [t for t in knowledge_tools(seam) if tools.get(t.name) is None]
    return Registry([*tools.all(), *extra]) if extra else tools


def build_deps(
    settings: Settings,
    *,
    tools: ToolCatalog | None = None,
    tool_deps: ToolDeps | None = None,
    reasoner: Reasoner | None = None,
    llm_client: Any | None = None,
) -> AgentDeps:
    """Build the deps of a process from its settings; every argument overrides one piece (tests)."""
    if tools is None:
        from tools.registry import default_registry

        tools = default_registry()
    runbooks, note = load_agent_runbooks(settings, [t.name for t in tools.all()])
    knowledge = MemorySeam(settings, runbooks)
    return AgentDeps(
        settings=settings,
        tools=with_knowledge_tools(tools, knowledge),
        tool_deps=tool_deps or build_tool_deps(settings),
        policy=load_policy(settings.policy_file),
        audit=AuditLog.open(settings),
        approvals=ApprovalStore.open(settings),
        reasoner=reasoner or build_reasoner(settings, llm_client),
        knowledge=knowledge,
        runbooks=runbooks,
        runbook_note=note,
    )
