"""Tool calls that arrive from outside the graph (the MCP server), through the same guard.

A read runs and returns its redacted text. An action is dry-run first, then judged by
``agent.guard.guard_action`` against the policy and the audit log's history, exactly as the graph's
guard node judges it: denied → the reasons; needs a human → an :class:`ApprovalRequest` in the same
store ``devops-agent approvals`` reads, and nothing changes; allowed to run alone → applied once,
with the cooldown checked again right before. Every call and decision is audited.

Such a request belongs to no paused graph run: its incident id starts with ``mcp-``. A human decides
it with ``devops-agent approvals approve|reject`` (:func:`decide_detached`), and the client applies
an approved one with :func:`apply_approved`, exactly once (the approval id is the idempotency key,
claimed in the store before the change).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.approvals import DETACHED_PREFIX, ApprovalDecision, ApprovalError, ApprovalRequest, ApprovalStore
from agent.audit import AuditLog
from agent.deps import AgentDeps
from agent.guard import ProposedAction, Verdict, effect_ref, guard_action, rate_problems, target_from_args
from agent.policy import Policy
from agent.slo_budget import error_budget_for
from tools.base import ActionEffect, Tool, ToolResult
from tools.redact import redact_obj, redact_text

SUMMARY_CHARS = 400

CallStatus = Literal["ok", "error", "no_data", "pending_approval", "denied", "noop", "applied", "failed"]


class CallOutcome(BaseModel):
    """What one guarded call did, for the client (text and fields already redacted)."""

    status: CallStatus
    text: str
    tool: str
    approval_id: str | None = None
    reasons: list[str] = Field(default_factory=list)
    diff: str = ""

    @property
    def is_error(self) -> bool:
        return self.status in ("error", "denied", "failed")

    def render(self) -> str:
        """The text an MCP client (and its model) reads."""
        lines = [f"[{self.status}] {self.text}"]
        if self.reasons:
            lines.append("why: " + "; ".join(self.reasons))
        if self.diff:
            lines.append("dry-run diff:\n" + self.diff)
        return redact_text("\n".join(lines))


def new_session_id() -> str:
    return f"{DETACHED_PREFIX}{uuid.uuid4().hex[:10]}"


class GuardedCalls:
    """Run registered tools for one outside client (one MCP session), guarded and audited."""

    def __init__(self, deps: AgentDeps, actor: str, session_id: str | None = None, via: str = "mcp") -> None:
        self.deps = deps
        self.actor = actor
        self.session_id = session_id or new_session_id()
        self.via = via  # who asked, as the audit rows say it: "mcp" or "posture"
        self.apply_hint = (
            "call apply_approved with approval_id={id!r}"
            if via == "mcp"
            else "run `devops-agent posture --apply {id}`"
        )

    def call(self, name: str, args: dict[str, Any], reason: str = "") -> CallOutcome:
        """A read runs; an action goes through dry run, guard, approval or apply. ``name`` must be a
        registered tool (the caller checks it: an unknown name is a protocol error)."""
        tool = self.deps.tools.get(name)
        if tool is None:
            raise KeyError(name)
        if not tool.is_action:
            result = self._run(tool, args, purpose="read")
            return CallOutcome(status=result.status, text=redact_text(result.text), tool=name)
        return self._propose(tool, args, reason)

    def _run(self, tool: Tool, args: dict[str, Any], *, dry_run: bool = False, purpose: str) -> ToolResult:
        result = tool.invoke(self.deps.tool_deps, args, dry_run=dry_run)
        self.deps.audit.append(
            "tool_call",
            incident_id=self.session_id,
            actor=self.actor,
            data={
                "tool": tool.name,
                "args": redact_obj(args),
                "status": result.status,
                "purpose": purpose,
                "dry_run": dry_run,
                "via": self.via,
                "summary": redact_text(result.text)[:SUMMARY_CHARS],
            },
        )
        return result

    def _decision(
        self, tool: Tool, args: dict[str, Any], decision: str, reasons: list[str], **extra: Any
    ) -> None:
        self.deps.audit.append(
            "decision",
            incident_id=self.session_id,
            actor=self.actor,
            data={
                "tool": tool.name,
                "args": args,
                "decision": decision,
                "reasons": reasons,
                "via": self.via,
                **extra,
            },
        )

    def _judge(self, tool: Tool, args: dict[str, Any], effect: ActionEffect | None, reason: str) -> Verdict:
        now = self.deps.now()
        return guard_action(
            ProposedAction(tool=tool.name, args=args, reason=reason),
            tool,
            effect,
            self.deps.policy,
            self.deps.audit.action_history(now - timedelta(hours=24)),
            now,
            error_budget_for(self.deps, effect.target if effect else None),
        )

    def _propose(self, tool: Tool, args: dict[str, Any], reason: str) -> CallOutcome:
        dry = self._run(tool, args, dry_run=True, purpose="dry_run")
        if dry.status == "error":
            return CallOutcome(status="failed", text=f"the dry run failed: {dry.text}", tool=tool.name)
        effect = dry.effect
        if effect is not None and not effect.changed:
            self._decision(tool, args, "noop", ["already in the requested state"])
            return CallOutcome(status="noop", text=f"nothing to change: {dry.text}", tool=tool.name)
        verdict = self._judge(tool, args, effect, reason)
        diff = effect.diff if effect else ""
        self._decision(
            tool, args, verdict.decision, verdict.reasons, autonomy=verdict.autonomy, risk=tool.risk
        )
        if verdict.decision == "deny":
            return CallOutcome(
                status="denied",
                text="the policy refused it; nothing was changed",
                tool=tool.name,
                reasons=verdict.reasons,
            )
        if verdict.decision == "needs_approval":
            req = self._request(tool, args, effect, verdict, reason)
            return CallOutcome(
                status="pending_approval",
                text=(
                    f"nothing was changed: approval {req.id} waits for a human (`devops-agent approvals "
                    f"approve {req.id}`); then {self.apply_hint.format(id=req.id)}"
                ),
                tool=tool.name,
                approval_id=req.id,
                reasons=verdict.reasons,
                diff=diff,
            )
        key = f"{self.session_id}-{uuid.uuid4().hex[:8]}"
        return self._apply(tool, args, effect, key, approver="policy:auto", approval_id=None)

    def _request(
        self, tool: Tool, args: dict[str, Any], effect: ActionEffect | None, verdict: Verdict, reason: str
    ) -> ApprovalRequest:
        ttl = min(self.deps.settings.approval_ttl_s, self.deps.policy.guardrails.approval_ttl_s)
        req = ApprovalRequest.create(
            ttl_s=ttl,
            incident_id=self.session_id,
            tool=tool.name,
            args=args,
            target=effect.target if effect else target_from_args(args),
            risk=tool.risk,
            reason=reason or f"requested by {self.actor} over {self.via}",
            diff=effect.diff if effect else "",
            expected_effect=effect.expected_effect if effect else "",
            undo=effect.undo if effect else None,
            guard_reasons=verdict.reasons,
        )
        self.deps.approvals.add(req)
        self.deps.audit.append(
            "approval_requested",
            incident_id=self.session_id,
            actor=self.actor,
            data=req.model_dump(mode="json"),
        )
        return req

    def _apply(
        self,
        tool: Tool,
        args: dict[str, Any],
        effect: ActionEffect | None,
        key: str,
        *,
        approver: str,
        approval_id: str | None,
    ) -> CallOutcome:
        """Apply once: the cooldown and hourly limit are asked again right before the change."""
        now = self.deps.now()
        raced = rate_problems(
            tool.name, effect, self.deps.policy, self.deps.audit.action_history(now - timedelta(hours=1)), now
        )
        if raced:
            return CallOutcome(status="denied", text="not applied now", tool=tool.name, reasons=raced)
        if approval_id is not None and not self.deps.approvals.claim_execution(approval_id):
            return CallOutcome(
                status="denied",
                text=f"approval {approval_id} was already used; nothing changed",
                tool=tool.name,
            )
        result = self._run(tool, args, purpose="apply")
        if result.status == "error":
            return CallOutcome(status="failed", text=f"applying failed: {result.text}", tool=tool.name)
        applied = result.effect or effect
        self.deps.audit.append(
            "action_applied",
            incident_id=self.session_id,
            actor=approver,
            idempotency_key=key,
            data={
                "tool": tool.name,
                "args": args,
                "target_ref": effect_ref(applied),
                "effect": applied.model_dump(mode="json") if applied else None,
                "approval_id": approval_id,
                "via": self.via,
                "result": result.text[:SUMMARY_CHARS],
            },
        )
        return CallOutcome(
            status="applied",
            text=redact_text(result.text),
            tool=tool.name,
            diff=applied.diff if applied else "",
        )

    def approval(self, approval_id: str) -> dict[str, Any]:
        """The request as the store has it (raises ``ApprovalError`` for an unknown id)."""
        self.deps.approvals.expire_due()
        req = self.deps.approvals.get(approval_id)
        out: dict[str, Any] = redact_obj(req.model_dump(mode="json"))
        out["applied"] = self.deps.audit.has_applied(approval_id)
        return out

    def apply_approved(self, approval_id: str) -> CallOutcome:
        """Apply a request a human approved, once: dry run again, guardrails again, then the change."""
        req = self.deps.approvals.get(approval_id)
        tool = self.deps.tools.get(req.tool)
        if not req.detached:
            raise ApprovalError(
                f"approval {req.id} belongs to incident {req.incident_id}: its paused run applies it when approved"
            )
        if req.status != "approved":
            raise ApprovalError(f"approval {req.id} is {req.status}, not approved; nothing changed")
        if tool is None:
            raise ApprovalError(
                f"approval {req.id} names {req.tool!r}, which is not registered; nothing changed"
            )
        if self.deps.audit.has_applied(req.id):
            return CallOutcome(status="noop", text=f"approval {req.id} was already applied", tool=tool.name)
        dry = self._run(tool, req.args, dry_run=True, purpose="dry_run")
        if dry.status == "error":
            return CallOutcome(status="failed", text=f"the dry run failed: {dry.text}", tool=tool.name)
        verdict = self._judge(tool, req.args, dry.effect, req.reason)
        decision = "allow" if verdict.decision == "needs_approval" else verdict.decision
        self._decision(
            tool, req.args, decision, verdict.reasons, approved_by=req.decided_by, approval_id=req.id
        )
        if decision == "deny":
            return CallOutcome(
                status="denied",
                text="the policy refuses it now; nothing was changed",
                tool=tool.name,
                reasons=verdict.reasons,
            )
        return self._apply(
            tool, req.args, dry.effect, req.id, approver=req.decided_by or "unknown", approval_id=req.id
        )


def decide_detached(
    store: ApprovalStore, policy: Policy, audit: AuditLog, decision: ApprovalDecision
) -> ApprovalRequest:
    """Decide a request no graph run waits for: claimed once in the store (approver allow-list and
    expiry apply), audited; the MCP client then applies an approved one with ``apply_approved``."""
    req = store.get(decision.approval_id)
    if decision.edited_args:
        raise ApprovalError(
            f"approval {req.id} was requested over MCP: it cannot be approved with edited arguments; "
            "reject it and ask the client to call the tool again with the arguments you want"
        )
    decided = store.decide(decision, approvers=policy.guardrails.approvers)
    audit.append(
        "approval_decided",
        incident_id=req.incident_id,
        actor=decision.approver,
        data={
            "approval_id": req.id,
            "decision": decision.decision,
            "reason": decision.reason,
            "tool": req.tool,
        },
    )
    return decided
