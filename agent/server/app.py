"""The `serve` HTTP application: webhook, APIs, health and metrics, plus the worker pool.

Workers take items from the durable queue and drive the same Runner the CLI uses, so an alert
investigation, its approvals and its audit trail are identical whichever way in they came.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from agent.approvals import ApprovalDecision, ApprovalError, ApprovalStore
from agent.events import event_dict, outcome_dict
from agent.server.alerts import PayloadError, parse_payload
from agent.server.metrics import AgentMetrics
from agent.server.queue import WorkItem, WorkQueue
from agent.settings import Settings

log = logging.getLogger("devops_agent.serve")
MAX_BODY_BYTES = 1024 * 1024


class RunnerLike(Protocol):
    def investigate(
        self, *, alert: dict[str, Any] | None = None, thread_id: str | None = None, on_event: Any = None
    ) -> Any: ...

    def resume(self, approval_id: str, decision: ApprovalDecision, *, claimed: bool = False) -> Any: ...

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
            settings.path("serve.sqlite"),
            correlate_window_s=settings.correlate_window_s,
            follow_up_delay_s=settings.follow_up_delay_s,
        )
        self.approvals = ApprovalStore(settings.path("approvals.sqlite"))
        self.metrics = AgentMetrics()
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
                self.queue.finish(item)
            except Exception as exc:  # keep the worker alive; the item is retried
                log.exception("work item %s failed", item)
                self.queue.finish(item, error=f"{type(exc).__name__}: {exc}")

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
                    alert=_alert_group(incident), thread_id=incident["id"], on_event=on_event
                )
            outcome = outcome_dict(raw_outcome)
            status = str(outcome.get("status"))
            self.metrics.observe_outcome(outcome)
            self.queue.set_status(incident["id"], status, outcome)
            self.metrics.investigations.labels(status).inc()
            self._notify("investigation_finished", incident, outcome)
            if status != "awaiting_approval":
                self._release(incident["id"])
        else:
            self._close(incident)

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

    def _release(self, incident_id: str) -> None:
        children = self.queue.release_children(incident_id)
        if children:
            log.info(
                "incident %s done; correlated incidents still firing will be investigated: %s",
                incident_id,
                ", ".join(children),
            )
            self.wake()

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

    def resume(self, approval_id: str, decision: ApprovalDecision) -> dict[str, Any]:
        """Claim a decision and continue the paused run now, in this thread (Slack, the evals)."""
        req = self.runner.claim(approval_id, decision)
        self._mark_resuming(req.incident_id, decision)
        return self._continue(decision)

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

    def _continue(self, decision: ApprovalDecision) -> dict[str, Any]:
        """Continue a run whose decision was claimed; if that fails the request is open again, and
        so is the incident's wait for it."""
        try:
            raw = self.runner.resume(decision.approval_id, decision, claimed=True)
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
            self.queue.set_status(req.incident_id, str(outcome.get("status")), outcome)
            incident = self.queue.incident(req.incident_id) or {}
            self._notify("investigation_finished", incident, outcome)
            if outcome.get("status") != "awaiting_approval":
                self._release(req.incident_id)
        return outcome


def _alert_group(incident: dict[str, Any]) -> dict[str, Any]:
    firing = [a for a in incident["alerts"] if a["status"] == "firing"] or incident["alerts"]
    return {
        "version": "4",
        "status": "firing",
        "groupKey": incident["group_key"],
        "commonLabels": incident["common_labels"],
        "alerts": firing,
    }


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="devops-agent", version="0.1.0", docs_url="/docs", redoc_url=None)
    settings = service.settings

    def require_token(request: Request) -> None:
        expected = settings.api_token.get_secret_value() if settings.api_token else None
        if not expected:
            raise HTTPException(
                401, "the API is disabled: set DEVOPS_AGENT_API_TOKEN and send it as a Bearer token"
            )
        got = request.headers.get("authorization", "")
        scheme, _, token = got.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.post("/webhook/alertmanager")
    async def webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            service.metrics.webhook_rejected.labels("too_large").inc()
            return JSONResponse(
                {"error": f"body of {declared} bytes exceeds the {MAX_BODY_BYTES}-byte limit"}, 413
            )
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                service.metrics.webhook_rejected.labels("too_large").inc()
                return JSONResponse({"error": f"body exceeds the {MAX_BODY_BYTES}-byte limit"}, 413)
        try:
            raw = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            service.metrics.webhook_rejected.labels("not_json").inc()
            return JSONResponse({"error": f"body is not valid JSON: {exc}"}, 400)
        try:
            payload = parse_payload(raw)
        except PayloadError as exc:
            service.metrics.webhook_rejected.labels("invalid").inc()
            return JSONResponse({"error": str(exc)}, 400)
        for a in payload.alerts:
            service.metrics.alerts_received.labels(a.status).inc()
        result = service.queue.ingest(payload)
        service.wake()
        return JSONResponse(
            {
                "incident_id": result.incident_id or None,
                "opened": result.opened,
                "folded": result.folded,
                "closing": result.closing,
                "parent_id": result.parent_id,
            }
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        problems = []
        if not service.running:
            problems.append("investigation workers are not running")
        try:
            service.queue.depth()
        except Exception as exc:
            problems.append(f"work queue unavailable: {exc}")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    def metrics() -> Response:
        service.metrics.queue_depth.set(service.queue.depth())
        service.metrics.incidents_open.set(service.queue.open_count())
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    auth = [Depends(require_token)]

    @app.get("/api/incidents", dependencies=auth)
    def list_incidents(limit: int = 100, open_only: bool = False) -> list[dict[str, Any]]:
        return service.queue.incidents(limit=limit, open_only=open_only)

    @app.get("/api/incidents/{incident_id}", dependencies=auth)
    def show_incident(incident_id: str) -> dict[str, Any]:
        inc = service.queue.incident(incident_id)
        if inc is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        inc["work"] = service.queue.work_items(incident_id)
        return inc

    @app.get("/api/incidents/{incident_id}/postmortem", dependencies=auth)
    def postmortem(incident_id: str) -> PlainTextResponse:
        inc = service.queue.incident(incident_id)
        if inc is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        report = (inc.get("outcome") or {}).get("report")
        if not report:
            raise HTTPException(409, f"incident {incident_id} has no postmortem yet (status {inc['status']})")
        return PlainTextResponse(str(report), media_type="text/markdown")

    @app.get("/api/approvals", dependencies=auth)
    def list_approvals(status: str | None = "pending") -> list[dict[str, Any]]:
        st = status if status in ("pending", "approved", "rejected", "expired") else None
        return [ApprovalStore.to_json(r) for r in service.approvals.list(status=st)]  # type: ignore[arg-type]

    @app.get("/api/approvals/{approval_id}", dependencies=auth)
    def show_approval(approval_id: str) -> dict[str, Any]:
        try:
            return ApprovalStore.to_json(service.approvals.get(approval_id))
        except ApprovalError as exc:
            raise HTTPException(404, str(exc)) from None

    def decide(approval_id: str, decision: str, body: dict[str, Any]) -> dict[str, Any]:
        approver = str(body.get("approver") or "api")
        edited = body.get("args")
        if edited is not None and not isinstance(edited, dict):
            raise HTTPException(400, "args must be a JSON object of argument names to values")
        try:
            service.approvals.get(approval_id)
        except ApprovalError as exc:
            raise HTTPException(404, str(exc)) from None
        d = ApprovalDecision(
            approval_id=approval_id,
            decision=decision,  # type: ignore[arg-type]
            approver=approver,
            reason=body.get("reason"),
            edited_args=edited,
        )
        try:
            return service.submit_decision(approval_id, d)
        except ApprovalError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/api/approvals/{approval_id}/approve", dependencies=auth, status_code=202)
    async def approve(approval_id: str, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        result: dict[str, Any] = await _in_thread(decide, approval_id, "approve", body)
        return result

    @app.post("/api/approvals/{approval_id}/reject", dependencies=auth, status_code=202)
    async def reject(approval_id: str, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        if not body.get("reason"):
            raise HTTPException(400, 'a rejection needs a reason: {"reason": "..."}')
        result: dict[str, Any] = await _in_thread(decide, approval_id, "reject", body)
        return result

    return app


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


async def _in_thread(fn: Any, *args: Any) -> Any:
    import anyio

    return await anyio.to_thread.run_sync(lambda: fn(*args))
