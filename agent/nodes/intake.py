"""intake: turn an Alertmanager group, a chat message or a CLI question into an incident.

Parsing happens before the graph starts (``incident_from_alert`` / ``incident_from_question``, so a
bad alert file is a friendly error, not a failed run); the node completes the incident — namespace
and service from the cluster's known deployments when a question names them — and resets the
per-run fields for a new turn on an existing thread (chat).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from agent.nodes.common import Ctx, close_open_calls, emit, run_tool
from agent.state import RUN_FIELDS_RESET, AgentState
from tools.redact import redact_obj, redact_text

SERVICE_LABELS = ("service", "deployment", "app", "job", "container")


class IntakeError(ValueError):
    """The input cannot become an incident; the message says what is wrong with it."""


def new_incident_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"inc-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def incident_from_question(
    question: str, *, namespace: str | None = None, incident_id: str | None = None, source: str = "cli"
) -> dict[str, Any]:
    """An incident for a free-text question (``investigate "..."`` or a chat message)."""
    text = question.strip()
    if not text:
        raise IntakeError("the question is empty; ask something like 'why is checkout returning 500s?'")
    now = datetime.now(UTC)
    return {
        "id": incident_id or new_incident_id(now),
        "source": source,
        "question": redact_text(text),
        "title": redact_text(text.splitlines()[0][:120]),
        "alertname": None,
        "labels": {},
        "annotations": {},
        "severity": None,
        "namespace": namespace,
        "namespace_explicit": namespace is not None,
        "service": None,
        "context": None,
        "fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16],
        "started_at": now.isoformat(),
        "expr": None,
    }


def _alerts_of(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        raise IntakeError(f"an alert payload must be a JSON object, got {type(payload).__name__}")
    if "alerts" in payload:
        alerts = payload["alerts"]
        if not isinstance(alerts, list) or not alerts:
            raise IntakeError("the Alertmanager payload has no alerts (expected a non-empty 'alerts' list)")
    elif "labels" in payload:
        alerts = [payload]
    else:
        raise IntakeError(
            "not an alert: expected an Alertmanager webhook (with 'alerts') or a single alert (with 'labels')"
        )
    for a in alerts:
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict) or "alertname" not in a["labels"]:
            raise IntakeError("every alert needs a 'labels' object with an 'alertname'")
    return alerts


def _expr_of(generator_url: str | None) -> str | None:
    """The PromQL expression of a Prometheus generatorURL (``/graph?g0.expr=...``)."""
    if not generator_url:
        return None
    values = parse_qs(urlparse(generator_url).query).get("g0.expr")
    return values[0] if values else None


def incident_from_alert(payload: Any, *, incident_id: str | None = None) -> dict[str, Any]:
    """An incident for an Alertmanager v4 webhook payload or a single alert."""
    alerts = _alerts_of(payload)
    firing = [a for a in alerts if a.get("status", "firing") == "firing"] or alerts
    first = firing[0]
    labels = {str(k): str(v) for k, v in first["labels"].items()}
    annotations = {str(k): str(v) for k, v in (first.get("annotations") or {}).items()}
    name = labels["alertname"]
    summary = annotations.get("summary") or annotations.get("description") or name
    others = sorted({a["labels"]["alertname"] for a in firing[1:]} - {name})
    fingerprint = (
        first.get("fingerprint") or hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    )
    started = first.get("startsAt") or datetime.now(UTC).isoformat()
    question = f"Alert {name} is firing: {summary}" + (
        f" (also firing: {', '.join(others)})" if others else ""
    )
    return {
        "id": incident_id or new_incident_id(),
        "source": "alert",
        "question": redact_text(question),
        "title": redact_text(f"{name}: {summary}"[:160]),
        "alertname": name,
        "labels": redact_obj(labels),
        "annotations": redact_obj(annotations),
        "severity": labels.get("severity"),
        "namespace": labels.get("namespace"),
        "namespace_explicit": "namespace" in labels,
        "service": next((labels[k] for k in SERVICE_LABELS if labels.get(k)), None),
        "context": labels.get("cluster") or None,
        "fingerprint": str(fingerprint),
        "started_at": str(started),
        "expr": _expr_of(first.get("generatorURL")),
        "alert_count": len(firing),
        # set by serve: the earlier incident whose verified fix this one follows, and the alerts of
        # other groups on the same failing path that were folded into this incident
        "follows": payload.get("follows") if isinstance(payload, dict) else None,
        "folded_alerts": list(payload.get("folded_alerts") or []) if isinstance(payload, dict) else [],
    }


def _known_deployments(runtime: Ctx, state: AgentState) -> list[dict[str, Any]]:
    result, _ = run_tool(runtime, state, "k8s_list", {"kind": "deployment"}, purpose="intake")
    if result.status != "ok" or not isinstance(result.data, list):
        return []
    return [d for d in result.data if isinstance(d, dict) and d.get("name")]


def resolve_target(
    question: str, deployments: list[dict[str, Any]], namespace: str | None
) -> tuple[str | None, str | None]:
    """(namespace, service) named in a question, by matching known deployment and namespace names."""
    words = set(re.findall(r"[a-z0-9][a-z0-9.\-]*[a-z0-9]|[a-z0-9]", question.lower()))
    candidates = [d for d in deployments if namespace is None or d.get("namespace") == namespace]
    named = sorted(
        (d for d in candidates if str(d["name"]).lower() in words), key=lambda d: -len(str(d["name"]))
    )
    if named:
        return str(named[0].get("namespace") or namespace or ""), str(named[0]["name"])
    if namespace is None:
        spaces = sorted(
            {str(d.get("namespace")) for d in deployments if d.get("namespace")}, key=len, reverse=True
        )
        namespace = next((ns for ns in spaces if ns.lower() in words), None)
    return namespace, None


def intake_incident(state: AgentState, runtime: Ctx) -> dict[str, Any]:
    """Complete the incident and start a new run (or a new chat turn) on this thread."""
    deps = runtime.context
    incident = dict(state["incident"])
    question = redact_text(state.get("question") or str(incident.get("question", "")))
    incident["question"] = question
    if incident.get("service") is None or not incident.get("namespace_explicit"):
        deployments = _known_deployments(runtime, state)
        explicit = incident.get("namespace") if incident.get("namespace_explicit") else None
        ns, service = resolve_target(question, deployments, explicit)
        incident["namespace"] = ns or incident.get("namespace") or deps.settings.default_namespace
        incident["service"] = service or incident.get("service")
    incident.setdefault("detected_at", datetime.now(UTC).isoformat())
    if not incident.get("context"):
        incident["context"] = deps.settings.kube_context
    deps.audit.append(
        "run_started",
        incident_id=incident["id"],
        data={
            k: incident.get(k) for k in ("source", "title", "alertname", "namespace", "service", "severity")
        }
        | {"reasoner": deps.reasoner.name, "question": question},
    )
    emit(runtime, "status", phase="intake", text=f"incident {incident['id']}: {incident.get('title')}")
    messages = close_open_calls(
        list(state.get("messages", [])), "not executed: the previous turn was interrupted"
    )
    return {**RUN_FIELDS_RESET, "incident": incident, "question": question, "messages": messages}
