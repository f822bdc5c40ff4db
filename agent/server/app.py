"""The `serve` HTTP application: the Alertmanager webhook, the incidents and approvals APIs, health and
metrics, in front of the worker pool (:class:`agent.server.service.Service`).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from agent.approvals import ApprovalDecision, ApprovalError, ApprovalStore
from agent.server.alerts import PayloadError, parse_payload
from agent.server.service import Service

MAX_BODY_BYTES = 1024 * 1024
MAX_LIST = 10_000
"""The most incidents one list call returns (a larger ``limit`` is a 422, not an overflow in SQLite)."""


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
        if result.folded_into:
            service.metrics.alerts_folded.inc()
        service.wake()
        return JSONResponse(
            {
                "incident_id": result.incident_id or None,
                "opened": result.opened,
                "folded": result.folded,
                "closing": result.closing,
                "parent_id": result.parent_id,
                "folded_into": result.folded_into,
            }
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "Not ready; `problems` says why."}})
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
    def list_incidents(
        limit: int = Query(100, ge=1, le=MAX_LIST, description=f"At most {MAX_LIST} incidents."),
        open_only: bool = False,
    ) -> list[dict[str, Any]]:
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

    @app.get(
        "/api/slo",
        dependencies=auth,
        responses={
            503: {"description": "Prometheus cannot be reached; `detail` names the URL that was tried."}
        },
    )
    def slo_status(service_name: str | None = None) -> dict[str, Any]:
        """Every SLO's budget left, burn rates and time to exhaustion (``devops-agent slo status``)."""
        from agent.slo_budget import slo_report  # imports the Prometheus client: load on first use

        try:
            return slo_report(settings, service_name)
        except RuntimeError as exc:
            raise HTTPException(503, str(exc)) from None

    @app.get("/api/drift", dependencies=auth)
    def drift() -> dict[str, Any]:
        """The last drift check against the desired state (``devops-agent drift``): every drifted object
        with its field diff (secret values masked) and the sync and adopt proposals. ``enabled`` is false
        when ``DEVOPS_AGENT_DESIRED_STATE`` is unset or the check interval is 0."""
        from agent.drift import DriftMonitor

        monitor = service.drift or DriftMonitor(settings, None)  # not running: says so, checks nothing
        snapshot: dict[str, Any] = monitor.snapshot()
        return snapshot

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
