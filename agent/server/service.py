"""`serve`'s worker pool: it takes items from the durable queue and drives the same Runner the CLI
uses, so an alert investigation, its approvals and its audit trail are identical whichever way in
they came. The HTTP application in front of it is :mod:`agent.server.app`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from agent import storage
from agent.approvals import ApprovalDecision, ApprovalError, ApprovalStore
from agent.events import event_dict, outcome_dict
from agent.server.folding import with_folded
from agent.server.followup import symptoms_now
from agent.server.metrics import AgentMetrics
from agent.server.queue import WorkItem, WorkQueue
from agent.settings import Settings

log = logging.getLogger("devops_agent.serve")


class RunnerLike(Protocol):
    def investigate(
        self, *, alert: dict[str, Any] | None = None, thread_id: str | None = None, on_event: Any = None
    ) -> Any: ...

    def resume(
        self, approval_id: str, decision: ApprovalDecision, *, claimed: bool = False, on_event: Any = None
    ) -> Any: ...

    def claim(self, approval_id: str, decision: ApprovalDecision) -> Any: ...

    def outcome(self, incident_id: str) -> Any: ...

    def interrupted(self, thread_id: str) -> bool: ...

    def continue_run(self, thread_id: str, *, on_event: Any = None) -> Any: ...


class Notifier(Protocol):
    """Something told about incidents as they happen (the Slack bot implements it)."""

    def incident_opened(self, incident: dict[str, Any]) -> None: ...

    def incident_event(self, incident: dict[str, Any], event: dict[str, Any]) -> None: ...

    def investigation_finished(self, incident: dict[str, Any], outcome: dict[str, Any]) -> None: ...

    def incident_closed(self, incident: dict[str, Any], postmortem: str) -> None: ...


class Service:
    """The queue, the workers and the runner, independent of HTTP (tests drive it directly too)."""

    def __init__(self, settings: Settings, runner: RunnerLike, notifiers: Sequence[Notifier] = ()) -> None:
        self.settings = settings
        self.runner = runner
        self.notifiers = list(notifiers)
        self.queue = WorkQueue(
            storage.database(settings, "serve.sqlite"),
            correlate_window_s=settings.correlate_window_s,
            follow_up_delay_s=settings.follow_up_delay_s,
            follow_up_settle_s=settings.follow_up_settle_s,
            lease_s=settings.work_lease_s,
        )
        self.approvals = ApprovalStore.open(settings)
        self.metrics = AgentMetrics()
        self.drift: Any = None
        """The drift monitor (``agent.drift.DriftMonitor``) when ``serve`` checks the desired state."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        recovered = self.queue.recover()
        if recovered:
            log.warning("resuming %d investigation(s) interrupted by a restart", recovered)
        for i in range(self.settings.max_concurrent_investigations):
            t = threading.Thread(target=self._loop, name=f"investigator-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        keeper = threading.Thread(target=self._keep_leases, name="lease-keeper", daemon=True)
        keeper.start()
        self._threads.append(keeper)

    def _keep_leases(self) -> None:
        """Renew the leases of the items this process works on, three times per lease."""
        while not self._stop.wait(self.queue.lease_s / 3):
            try:
                self.queue.renew()
            except Exception:  # the database is away for a moment: the next round tries again
                log.warning("cannot renew work leases; retrying", exc_info=True)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    @property
    def running(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    # --- work ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self.queue.claim()
            if item is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                self._process(item)
                finished = self.queue.finish(item)
            except Exception as exc:  # keep the worker alive; the item is retried
                log.exception("work item %s failed", item)
                finished = self.queue.finish(item, error=f"{type(exc).__name__}: {exc}")
            if not finished:
                log.warning("lost the lease on %s while working on it; another worker took it over", item)

    def _process(self, item: WorkItem) -> None:
        if (
            item.kind == "resume"
        ):  # the run may have started outside serve (CLI, chat): no incident row needed
            decision = ApprovalDecision.model_validate_json(item.payload or "{}")
            self._continue(decision)
            return
        incident = self.queue.incident(item.incident_id)
        if incident is None:
            return
        if item.kind == "investigate":
            if incident.get("closed_at"):
                return  # every alert resolved before the investigation began (a correlated one the fix cured)
            if self._lagging(incident, item):
                return
            self.queue.set_status(incident["id"], "investigating")
            self._notify("incident_opened", incident)

            def on_event(raw: Any) -> None:
                event = event_dict(raw)
                self.metrics.observe_event(event)
                self._notify("incident_event", incident, event)

            if self.runner.interrupted(incident["id"]):
                # the process died mid-run: carry on from the checkpoint
                raw_outcome = self.runner.continue_run(incident["id"], on_event=on_event)
            else:
                raw_outcome = self.runner.investigate(
                    alert=self._alert_group(incident), thread_id=incident["id"], on_event=on_event
                )
            outcome = outcome_dict(raw_outcome)
            self.metrics.observe_outcome(outcome)
            self.metrics.investigations.labels(str(outcome.get("status"))).inc()
            self._finished(incident["id"], outcome)
        else:
            self._close(incident)

    def _lagging(self, incident: dict[str, Any], item: WorkItem) -> bool:
        """A follow-up of a verified fix while nothing fails: folded in as a lagging alert, no run
        (:mod:`agent.server.followup`). A re-check after the settle window, or a run already
        begun, is investigated as usual."""
        follows = self._alert_group(incident).get("follows")
        if not follows or "recheck" in (item.payload or "") or self.runner.interrupted(incident["id"]):
            return False
        symptoms = symptoms_now(getattr(self.runner, "deps", None), incident)
        if symptoms is None:
            return False  # triage could not tell: investigate as a follow-up
        if symptoms:
            self.queue.detach(incident["id"])  # something fails now: a fault of its own
            incident["parent_id"] = None
            return False
        note = f"{incident.get('alertname')} ({incident['id']}): lagging after the verified fix, nothing fails now"
        self.queue.fold_lagging(incident["id"], note)
        self.metrics.alerts_folded.inc()
        log.info("incident %s folded into %s: %s", incident["id"], follows["incident"], note)
        return True

    def _close(self, incident: dict[str, Any]) -> None:
        """Alertmanager says it is over. A run still waiting for a human is told so (its request is
        rejected: nobody needs to approve a fix for a problem that went away), so it reports and learns."""
        for req in self.approvals.list(status="pending", incident_id=incident["id"]):
            reject = ApprovalDecision(
                approval_id=req.id,
                decision="reject",
                approver="system:alert-resolved",
                reason="the alerts resolved before anyone approved",
            )
            try:
                self.runner.resume(req.id, reject)
            except ApprovalError as exc:
                log.info("closing %s: %s", incident["id"], exc)
        final = self.runner.outcome(incident["id"])
        outcome = outcome_dict(final) if final is not None else (incident.get("outcome") or {})
        self._mark_resolved(incident["id"])
        self.queue.set_status(incident["id"], "closed", outcome)
        current = self.queue.incident(incident["id"]) or incident
        self._notify("incident_closed", current, str(outcome.get("report") or ""))

    def _mark_resolved(self, incident_id: str) -> None:
        """The incident record in memory learns when Alertmanager said it was over."""
        memory = getattr(getattr(self.runner, "deps", None), "memory", None)
        if memory is None:
            return
        try:
            record = memory.get(incident_id)
            if record is not None and record.resolved_at is None:
                memory.remember(record.model_copy(update={"resolved_at": datetime.now(UTC)}))
        except Exception:  # memory is best effort here; the incident still closes
            log.exception("could not mark %s resolved in memory", incident_id)

    def _finished(self, incident_id: str, outcome: dict[str, Any]) -> None:
        """A run ended (or paused for a human): record it, tell the notifiers, and once it no longer
        waits let correlated incidents that still fire be investigated."""
        status = str(outcome.get("status"))
        released: list[str] = []
        if status != "awaiting_approval":
            self.queue.set_status(incident_id, status, outcome)  # the released children read how it ended
            before = {c["id"] for c in self.queue.children(incident_id) if c["status"] == "folded"}
            released = self.queue.release_children(incident_id, status, outcome.get("path"))
            folded = [c for c in self.queue.children(incident_id) if c["status"] == "folded"]
            self.metrics.alerts_folded.inc(len([c for c in folded if c["id"] not in before]))
            outcome = with_folded(outcome, [f"{c['alertname']} ({c['id']})" for c in folded])
        self.queue.set_status(incident_id, status, outcome)
        if outcome.get("handoff") and status != "awaiting_approval":
            self.metrics.escalations.inc()  # the page itself goes out through the notifiers (Slack)
        self._notify("investigation_finished", self.queue.incident(incident_id) or {}, outcome)
        if released:
            log.info(
                "incident %s done; correlated incidents still firing will be investigated: %s",
                incident_id,
                ", ".join(released),
            )
            self.wake()

    def _alert_group(self, incident: dict[str, Any]) -> dict[str, Any]:
        """The incident's alert group for the runner; a group released after its parent's verified fix
        says so, so a lagging alert over a long window is not taken for a new failure."""
        parent = self.queue.incident(incident["parent_id"]) if incident.get("parent_id") else None
        follows = None
        outcome = (parent or {}).get("outcome") or {}
        if parent is not None and outcome.get("status") == "resolved":
            follows = {"incident": parent["id"], "root_cause": outcome.get("root_cause")}
        return _alert_group(incident, follows)

    def _notify(self, method: str, *args: Any) -> None:
        for n in self.notifiers:
            try:
                getattr(n, method)(*args)
            except Exception:
                log.exception("notifier %s.%s failed", type(n).__name__, method)

    def wake(self) -> None:
        self._wake.set()

    # --- the runner, with serve's bookkeeping (the HTTP API, Slack and the evals call these) ----
    def investigate(self, **kwargs: Any) -> Any:
        return self.runner.investigate(**kwargs)

    def claim(self, approval_id: str, decision: ApprovalDecision) -> Any:
        """Claim a decision exactly once; the incident is then acting on it (or investigating on)."""
        req = self.runner.claim(approval_id, decision)
        self._mark_resuming(req.incident_id, decision)
        return req

    def resume(
        self, approval_id: str, decision: ApprovalDecision, *, claimed: bool = False, on_event: Any = None
    ) -> dict[str, Any]:
        """Continue the paused run now, in this thread (Slack, the evals), claiming the decision
        first unless :meth:`claim` already did."""
        if not claimed:
            self.claim(approval_id, decision)
        return self._continue(decision, on_event)

    def submit_decision(self, approval_id: str, decision: ApprovalDecision) -> dict[str, Any]:
        """Claim a decision now (a second claim fails: 409) and let a worker continue the run.

        The HTTP API uses this: acting and verifying take minutes, longer than a client should wait.
        """
        req = self.runner.claim(approval_id, decision)
        self._mark_resuming(req.incident_id, decision)
        self.queue.enqueue(req.incident_id, "resume", payload=decision.model_dump_json())
        self.wake()
        return {
            "approval_id": approval_id,
            "incident_id": req.incident_id,
            "decision": decision.decision,
            "status": "resuming",
            "approver": decision.approver,
        }

    def _continue(self, decision: ApprovalDecision, on_event: Any = None) -> dict[str, Any]:
        """Continue a run whose decision was claimed; if that fails the request is open again, and
        so is the incident's wait for it."""

        def observed(raw_event: Any) -> None:  # the action itself runs here: count it like the rest
            self.metrics.observe_event(event_dict(raw_event))
            if on_event is not None:
                on_event(raw_event)

        try:
            raw = self.runner.resume(decision.approval_id, decision, claimed=True, on_event=observed)
        except BaseException:
            incident_id = self.approvals.get(decision.approval_id).incident_id
            if self.queue.incident(incident_id) is not None:
                self.queue.set_status(incident_id, "awaiting_approval")
            raise
        return self._after_resume(decision.approval_id, raw)

    def _mark_resuming(self, incident_id: str, decision: ApprovalDecision) -> None:
        """From the decision until the run ends, the incident is no longer waiting for anyone: it is
        acting (and verifying) on an approval, or investigating on after a rejection."""
        if self.queue.incident(incident_id) is not None:
            self.queue.set_status(
                incident_id, "acting" if decision.decision == "approve" else "investigating"
            )

    def _after_resume(self, approval_id: str, raw_outcome: Any) -> dict[str, Any]:
        req = self.approvals.get(approval_id)
        outcome = outcome_dict(raw_outcome)
        wait_s = ((req.decided_at or req.requested_at) - req.requested_at).total_seconds()
        self.metrics.approval_wait.observe(max(0.0, wait_s))
        if self.queue.incident(req.incident_id) is not None:
            self._finished(req.incident_id, outcome)
        return outcome


def _alert_group(incident: dict[str, Any], follows: dict[str, Any] | None = None) -> dict[str, Any]:
    firing = [a for a in incident["alerts"] if a["status"] == "firing"] or incident["alerts"]
    return {
        "version": "4",
        "status": "firing",
        "groupKey": incident["group_key"],
        "commonLabels": incident["common_labels"],
        "alerts": firing,
        **({"follows": follows} if follows else {}),
    }
