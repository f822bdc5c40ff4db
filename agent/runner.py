"""Start and resume runs of the incident graph: the API the CLI, chat, ``serve`` and Slack call.

::

    runner = Runner(load_settings())
    outcome = runner.investigate("why is the predictor returning 500s?", on_event=print)
    if outcome.status == "awaiting_approval":
        req = outcome.approvals[0]
        outcome = runner.resume(req["id"], ApprovalDecision(approval_id=req["id"], decision="approve", approver="me"))

Progress arrives as :class:`RunEvent` (``status``, ``tool_started``, ``tool_finished``, ``token``,
``proposal``, ``verdict``, ``approval_requested``, ``approval_decided``, ``action``, ``verify``,
``warning``, ``finished``) while the run executes. A paused run lives in the checkpoint database; any
process with the same data dir can resume it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.types import Command
from pydantic import BaseModel, Field

from agent import storage
from agent.approvals import ApprovalDecision, ApprovalError, ApprovalRequest
from agent.deps import AgentDeps, build_deps
from agent.graph import Graph, compile_graph
from agent.nodes.common import close_open_calls
from agent.nodes.intake import incident_from_alert, incident_from_question
from agent.settings import Settings
from agent.state import RunStatus

log = logging.getLogger(__name__)


class RunnerError(RuntimeError):
    """A run cannot start or resume; the message says why and what to do."""


@dataclass(frozen=True)
class RunEvent:
    """One progress event of a run."""

    kind: str
    incident_id: str
    data: dict[str, Any] = field(default_factory=dict)


EventCallback = Callable[[RunEvent], None]


class RunOutcome(BaseModel):
    """Where a run stands when ``investigate``/``resume`` returns."""

    incident_id: str
    status: RunStatus
    title: str = ""
    root_cause: str | None = None
    summary: str = Field("", description="The final answer, or why the run stopped or paused.")
    report: str = ""
    actions: list[dict[str, Any]] = Field(default_factory=list)
    approvals: list[dict[str, Any]] = Field(default_factory=list, description="Pending approval requests.")
    findings: list[dict[str, Any]] = Field(default_factory=list)
    stop_reason: str | None = None
    steps: int = 0
    tokens: int = 0
    reasoner: str = ""
    namespace: str | None = None
    service: str | None = None
    path: list[str] = Field(default_factory=list, description="The failing dependency path (Kind/name).")
    handoff: dict[str, Any] | None = Field(
        None,
        description="Set when the run ends on a system that still fails: what a human needs to take over.",
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Runner:
    """Runs incidents through the graph with one set of deps and one checkpointer."""

    def __init__(self, settings: Settings, deps: AgentDeps | None = None) -> None:
        self.settings = settings
        self.deps = deps or build_deps(settings)
        self._checkpoints = storage.checkpointer(settings)
        self.graph: Graph = compile_graph(self._checkpoints.saver)
        self._workers: dict[str, _Worker] = {}

    def close(self) -> None:
        for worker in list(self._workers.values()):  # e.g. an interrupted turn still in a model call
            worker.cancel.set()
            worker.thread.join(CLOSE_WAIT_S)
        self._checkpoints.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- starting --------------------------------------------------------------------------
    def investigate(
        self,
        question: str | None = None,
        alert: dict[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        namespace: str | None = None,
        source: str = "cli",
        on_event: EventCallback | None = None,
    ) -> RunOutcome:
        """Start a run for a question or an alert payload; with an existing ``thread_id``, a follow-up turn.

        Raises ``agent.nodes.intake.IntakeError`` for input that is not an incident and
        :class:`RunnerError` when the thread is waiting for an approval.
        """
        if (question is None) == (alert is None):
            raise RunnerError("give either a question or an alert payload")
        if thread_id:
            self._settle_worker(thread_id)
        existing = self._values(thread_id) if thread_id else {}
        if thread_id and self.waiting_for(thread_id):
            raise RunnerError(
                f"incident {thread_id} is waiting for approval {self.waiting_for(thread_id)}; "
                "approve or reject it first (`devops-agent approvals list`)"
            )
        if existing and question is not None:
            self._settle_interrupted(str(thread_id), existing)
            inputs: dict[str, Any] = {"question": question}
            iid = str(thread_id)
        else:
            incident = (
                incident_from_alert(alert, incident_id=thread_id)
                if alert is not None
                else incident_from_question(
                    str(question), namespace=namespace, incident_id=thread_id, source=source
                )
            )
            iid = incident["id"]
            inputs = {"incident": incident, "question": incident["question"]}
        return self._run(inputs, iid, on_event)

    def interrupted(self, thread_id: str) -> bool:
        """True when a run on this thread stopped half-way (the process died) and is not waiting for a human."""
        snapshot = self.graph.get_state(_config(thread_id))
        return bool(snapshot.next) and not self.waiting_for(thread_id)

    def continue_run(self, thread_id: str, *, on_event: EventCallback | None = None) -> RunOutcome:
        """Carry on a run that stopped half-way from its last checkpoint (``serve`` after a restart).

        Nodes re-run from their start; ``act`` skips a change whose idempotency key the audit log
        already has, so an action applied just before the crash is not applied again.
        """
        self._settle_worker(thread_id)
        if not self.interrupted(thread_id):
            outcome = self.outcome(thread_id)
            if outcome is None:
                raise RunnerError(f"no run with id {thread_id} to continue")
            return outcome
        return self._run(None, thread_id, on_event)

    def _settle_interrupted(self, thread_id: str, values: dict[str, Any]) -> None:
        """A turn stopped half-way (Ctrl-C, a crash) leaves pending nodes; close it before a new turn."""
        snapshot = self.graph.get_state(_config(thread_id))
        if not snapshot.next:
            return
        messages = close_open_calls(
            list(values.get("messages", [])), "not executed: the turn was interrupted"
        )
        self.graph.update_state(
            _config(thread_id),
            {
                "messages": messages,
                "pending_calls": [],
                "proposed": None,
                "phase": "done",
                "status": "aborted",
                "stop_reason": "interrupted",
            },
            as_node="learn",
        )

    # --- resuming --------------------------------------------------------------------------
    def waiting_for(self, incident_id: str) -> str | None:
        """The approval id a paused run waits for, or None."""
        self._settle_worker(incident_id)
        snapshot = self.graph.get_state(_config(incident_id))
        for intr in snapshot.interrupts:
            value = intr.value
            if isinstance(value, dict) and value.get("id"):
                return str(value["id"])
        return None

    def claim(self, approval_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        """Claim a decision exactly once (across processes) without continuing the run yet."""
        store = self.deps.approvals
        req = store.get(approval_id)
        self._settle_worker(req.incident_id)
        self._await_pause(req)
        if self.waiting_for(req.incident_id) != approval_id:
            raise ApprovalError(
                f"incident {req.incident_id} is not waiting for approval {approval_id} "
                f"(request status: {req.status}); nothing changed"
            )
        try:
            return store.decide(decision, approvers=self.deps.policy.guardrails.approvers)
        except ApprovalError:
            if store.get(approval_id).status == "expired":
                self._feed_expiry(req, None)
            raise

    def _await_pause(self, req: ApprovalRequest) -> None:
        """A request is stored just before its run pauses and checkpoints the pause: a decision that
        arrives in that moment (a quick human, a script) waits for the pause instead of being refused."""
        deadline = time.monotonic() + PAUSE_WAIT_S
        while (
            time.monotonic() < deadline
            and self.waiting_for(req.incident_id) != req.id
            and self.deps.approvals.get(req.id).status == "pending"
            and datetime.now(UTC) - req.requested_at < timedelta(seconds=PAUSE_WAIT_S)
        ):
            time.sleep(0.1)

    def resume(
        self,
        approval_id: str,
        decision: ApprovalDecision,
        *,
        on_event: EventCallback | None = None,
        claimed: bool = False,
    ) -> RunOutcome:
        """Claim the decision (exactly once, across processes) and continue the paused run with it.

        ``claimed=True``: :meth:`claim` already did (``serve`` claims in the HTTP request and
        continues the run on a worker). Raises :class:`ApprovalError` for an unknown, expired or
        already decided request; an expired request is also fed to its run as a rejection, so the
        run does not wait forever.
        """
        store = self.deps.approvals
        req = store.get(approval_id)
        if claimed:
            if req.status not in ("approved", "rejected"):
                raise ApprovalError(f"approval {approval_id} is not claimed and awaited; nothing changed")
            waiting = self.waiting_for(req.incident_id)
            if waiting is None:
                # the run took the decision, then the process died (claim checked that the run waited
                # for this request, so nothing else moved it on): carry on from the checkpoint, or
                # answer its outcome if it had finished
                return self.continue_run(req.incident_id, on_event=on_event)
            if waiting != approval_id:
                raise ApprovalError(f"approval {approval_id} is not claimed and awaited; nothing changed")
        else:
            self.claim(approval_id, decision)
        try:
            return self._run(Command(resume=decision.model_dump(mode="json")), req.incident_id, on_event)
        except BaseException:
            store.reopen(approval_id)
            raise

    def _feed_expiry(self, req: ApprovalRequest, on_event: EventCallback | None) -> RunOutcome:
        expiry = ApprovalDecision(
            approval_id=req.id,
            decision="reject",
            approver="system:expiry",
            reason=f"expired at {req.expires_at}",
        )
        return self._run(Command(resume=expiry.model_dump(mode="json")), req.incident_id, on_event)

    def expire_pending(self, on_event: EventCallback | None = None) -> list[RunOutcome]:
        """Expire overdue requests and tell their runs (``serve`` calls this periodically)."""
        outcomes = []
        for approval_id in self.deps.approvals.expire_due():
            req = self.deps.approvals.get(approval_id)
            if self.waiting_for(req.incident_id) == approval_id:
                outcomes.append(self._feed_expiry(req, on_event))
        return outcomes

    def pending_approvals(self, incident_id: str | None = None) -> list[ApprovalRequest]:
        return self.deps.approvals.list(status="pending", incident_id=incident_id)

    # --- reading ---------------------------------------------------------------------------
    def outcome(self, incident_id: str) -> RunOutcome | None:
        """The current outcome of an incident from its checkpoint, or None when unknown."""
        values = self._values(incident_id)
        if not values:
            return None
        return self._outcome(incident_id, values)

    def state(self, incident_id: str) -> dict[str, Any]:
        """The raw checkpointed state (for ``incidents show --json`` and the eval harness)."""
        return self._values(incident_id)

    def _values(self, incident_id: str | None) -> dict[str, Any]:
        if not incident_id:
            return {}
        self._settle_worker(incident_id)
        return dict(self.graph.get_state(_config(incident_id)).values or {})

    # --- running ---------------------------------------------------------------------------
    def _run(self, inputs: Any, incident_id: str, on_event: EventCallback | None) -> RunOutcome:
        """Run the graph in a worker thread and hand its events to ``on_event`` in this thread.

        Ctrl-C (or an exception from ``on_event``) returns at once: the graph stops at its next
        event, and the node still running (a model call) finishes in the background; the next call
        about this incident waits for it, so the checkpoint is never written by two turns at once.
        """
        worker = _Worker(self.graph, inputs, incident_id, self.deps)
        self._workers[incident_id] = worker
        worker.thread.start()
        try:
            failure = worker.drain(on_event)
        except BaseException:
            worker.cancel.set()  # _settle_worker waits for it before anything else touches the thread
            raise
        worker.thread.join()  # it has put its last item: this returns at once
        self._workers.pop(incident_id, None)
        if failure is None:
            return self._outcome(incident_id, self._values(incident_id))
        exc, trace = failure
        crash = self.settings.path("errors.log")
        with crash.open("a") as fh:
            fh.write(f"--- {incident_id}\n{trace}\n")
        values = self._values(incident_id)
        reason = f"internal error: {type(exc).__name__}: {exc} (traceback in {crash})"
        self.deps.audit.append(
            "run_finished", incident_id=incident_id, data={"status": "aborted", "stop_reason": reason}
        )
        return self._outcome(incident_id, {**values, "status": "aborted", "stop_reason": reason})

    def _settle_worker(self, incident_id: str) -> None:
        """Wait for the worker of an interrupted turn of this incident to stop writing its checkpoint.

        Only interrupted turns: a run another thread is driving (``serve``) is read as it stands.
        """
        worker = self._workers.get(incident_id)
        if worker is None or not worker.cancel.is_set():
            return
        while worker.thread.is_alive():
            worker.thread.join(0.2)  # short joins: Ctrl-C still works while we wait
        self._workers.pop(incident_id, None)

    def _outcome(self, incident_id: str, values: dict[str, Any]) -> RunOutcome:
        waiting = self.waiting_for(incident_id)
        status: RunStatus = "awaiting_approval" if waiting else (values.get("status") or "aborted")
        approvals = [_request_json(r) for r in self.pending_approvals(incident_id)] if waiting else []
        incident = values.get("incident") or {}
        if waiting:
            req = approvals[0] if approvals else {}
            summary = (
                f"waiting for approval {waiting}: {req.get('tool')} {req.get('args')} — "
                f"approve with `devops-agent approvals approve {waiting}`"
            )
        else:
            summary = values.get("answer") or values.get("stop_reason") or ""
        return RunOutcome(
            incident_id=incident_id,
            status=status,
            title=str(incident.get("title") or ""),
            root_cause=values.get("root_cause"),
            summary=str(summary),
            report=values.get("report") or "",
            actions=[_public_action(a) for a in values.get("actions", [])],
            approvals=approvals,
            findings=values.get("findings", []),
            stop_reason=values.get("stop_reason"),
            steps=values.get("steps", 0),
            tokens=values.get("tokens", 0),
            reasoner=self.deps.reasoner.name,
            namespace=incident.get("namespace"),
            service=incident.get("service"),
            handoff=values.get("handoff"),
            path=list(values.get("path") or []),
        )


CLOSE_WAIT_S = 5.0
PAUSE_WAIT_S = 5.0
"""How long a decision on a request waits for its run to checkpoint the pause (the request is stored first)."""
"""How long ``close`` waits for an interrupted turn's model call before closing the checkpointer."""

_DONE = object()


class _Worker:
    """One graph run in a daemon thread; its events go through a queue to the caller's thread."""

    def __init__(self, graph: Graph, inputs: Any, incident_id: str, deps: AgentDeps) -> None:
        self.graph, self.inputs, self.incident_id, self.deps = graph, inputs, incident_id, deps
        self.events: queue.Queue[Any] = queue.Queue()
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"run-{incident_id}", daemon=True)

    def _main(self) -> None:
        try:
            for chunk in self.graph.stream(
                self.inputs,
                _config(self.incident_id),
                context=self.deps,
                stream_mode="custom",
                durability="sync",
            ):
                if self.cancel.is_set():  # the caller was interrupted: stop at this event
                    break
                self.events.put(chunk)
        except Exception as exc:  # a bug must not leave a traceback on the user's screen
            log.debug("run %s crashed", self.incident_id, exc_info=True)
            self.events.put((exc, traceback.format_exc()))
        except BaseException as exc:  # KeyboardInterrupt/SystemExit inside a node: the caller's to raise
            self.events.put(exc)
        finally:
            self.events.put(_DONE)

    def drain(self, on_event: EventCallback | None) -> tuple[Exception, str] | None:
        """Pass events on until the run ends; returns the crash (exception, traceback) if any."""
        while True:
            try:
                item = self.events.get(timeout=0.2)  # short waits: Ctrl-C is handled promptly
            except queue.Empty:
                continue
            if item is _DONE:
                return None
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, tuple):
                return item
            if on_event is not None and isinstance(item, dict):
                data = dict(item)
                on_event(
                    RunEvent(kind=str(data.pop("kind", "status")), incident_id=self.incident_id, data=data)
                )


def _request_json(req: ApprovalRequest) -> dict[str, Any]:
    return req.model_dump(mode="json")


def _public_action(a: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "tool",
        "args",
        "reason",
        "status",
        "outcome",
        "approver",
        "approval_id",
        "verify",
        "note",
        "diff",
        "action_key",
        "runbook",
        "fault_class",
    )
    return {k: a.get(k) for k in keys if a.get(k) is not None}


def _config(incident_id: str) -> Any:
    return {"configurable": {"thread_id": incident_id}}
