"""A draft runbook from a resolved incident that matched no runbook, written for review.

What it matches comes from the incident (its alert, the finding kinds of its signature); its
diagnostics are the read tools the run used (from the audit log, first use of each, in order); its
remediations are the changes that led to the verified fix, with the findings seen as their
preconditions. Values that are the incident's namespace or service become ``{namespace}`` and
``{service}`` so the draft fits the next incident too. The draft carries ``draft: true``:
:func:`knowledge.runbooks.load_runbooks` never loads it as a live runbook, wherever it lies, until a
reviewer removes the flag and moves the file to a runbooks folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from agent.audit import AuditRow
from knowledge.records import ActionOutcome, IncidentRecord
from knowledge.runbooks import parse_runbook
from knowledge.vocabulary import FINDING_KINDS, known_tool_names
from tools.redact import redact_obj, redact_text

WORKED = ("fixed", "pending")  # a pending step is one the fix needed first (a revert before a restart)
MAX_DIAGNOSTICS = 6
_BRACED = re.compile(r"\{([A-Za-z_][\w.\-]*)\}")


class DraftError(ValueError):
    """No draft can be written for this incident; the message says why."""


def slug(text: str) -> str:
    """``LedgerConsumerLag`` -> ``ledger-consumer-lag``; ``inc 7/3`` -> ``inc-7-3``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-") or "incident"


def finding_kinds(record: IncidentRecord) -> list[str]:
    """Finding kinds of the record's signature (``alert=..|findings=a,b|service=..``)."""
    part = next((p for p in record.signature.split("|") if p.startswith("findings=")), "findings=-")
    return [k for k in part.removeprefix("findings=").split(",") if k in FINDING_KINDS]


def _template(value: Any, record: IncidentRecord) -> Any:
    """The incident's namespace and service as templates; a ``{word}`` in another string becomes
    ``(word)`` so it cannot read as a template (a PromQL ``{job="x"}`` is left alone)."""
    if isinstance(value, dict):
        return {k: _template(v, record) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, record) for v in value]
    if not isinstance(value, str):
        return value
    if record.namespace and value == record.namespace:
        return "{namespace}"
    if record.service and value == record.service:
        return "{service}"
    if record.service and value == f"deployment/{record.service}":
        return "deployment/{service}"
    return _BRACED.sub(r"(\1)", value)


def diagnostics(record: IncidentRecord, rows: Sequence[AuditRow]) -> list[dict[str, Any]]:
    """The read tools the run used, first call of each, with what they showed as the why."""
    tools = known_tool_names()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rows:
        tool = str(r.data.get("tool"))
        if r.kind != "tool_call" or r.data.get("purpose") != "read" or tool in seen or tool not in tools:
            continue
        seen.add(tool)
        shown = redact_text(str(r.data.get("summary") or "")).splitlines()
        why = f"In {record.id} it showed: {shown[0][:160]}" if shown else f"Used in {record.id}."
        args = _template(redact_obj(r.data.get("args") or {}), record)
        out.append({"tool": tool, "args": args, "why": why})
    return out[:MAX_DIAGNOSTICS]


def _worked(record: IncidentRecord) -> list[ActionOutcome]:
    """The steps up to and including the last verified fix, without those that failed or hurt."""
    fixed = [i for i, a in enumerate(record.actions) if a.outcome == "fixed"]
    if not fixed:
        raise DraftError(
            f"incident {record.id} has no verified fix (outcomes: "
            f"{', '.join(a.outcome for a in record.actions) or 'no actions'}): a draft needs a remediation that worked"
        )
    return [a for a in record.actions[: fixed[-1] + 1] if a.outcome in WORKED]


def remediations(record: IncidentRecord) -> list[dict[str, Any]]:
    kinds = finding_kinds(record)
    out: list[dict[str, Any]] = []
    for a in _worked(record):
        rid = slug(a.tool)
        while any(r["id"] == rid for r in out):
            rid += "-again"
        step: dict[str, Any] = {"id": rid, "tool": a.tool, "args": _template(redact_obj(a.args), record)}
        step["requires"] = kinds
        if out:
            step["after"] = [out[-1]["id"]]
        step["expected"] = redact_text(a.note)[:300] or "(what verify saw was not recorded)"
        out.append(step)
    return out


def _args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


def _body(record: IncidentRecord, diags: list[dict[str, Any]], fixes: list[dict[str, Any]]) -> str:
    tried = [a for a in record.actions if a.outcome in ("no_effect", "worse", "rejected", "failed")]
    lines = [
        f"# {record.title}",
        "",
        f"> Draft written from incident {record.id} ({record.started_at:%Y-%m-%d %H:%M} UTC), which no "
        "runbook matched. Review it: check the matches are not too wide, the arguments are general, "
        "then remove `draft: true` and move it to the runbooks folder.",
        "",
        "## Symptoms",
        *([f"- {redact_text(s)}" for s in record.symptoms] or ["- (none recorded)"]),
        "",
        "## Root cause (as recorded)",
        redact_text(record.root_cause) or "(not recorded)",
        "",
        "## Confirm",
        *([f"{i}. `{d['tool']}`: {d['why']}" for i, d in enumerate(diags, 1)] or ["(no read tool was used)"]),
        "",
        "## Remediation",
        *(f"{i}. `{f['tool']}` ({_args(f['args'])}): {f['expected']}" for i, f in enumerate(fixes, 1)),
    ]
    if tried:
        lines += ["", "## Tried in this incident, did not help"]
        lines += [
            f"- `{a.tool}` ({_args(redact_obj(a.args))}): {a.outcome} — {redact_text(a.note)[:200]}"
            for a in tried
        ]
    return "\n".join(lines) + "\n"


def draft_runbook(record: IncidentRecord, rows: Sequence[AuditRow]) -> tuple[str, str]:
    """(runbook id, Markdown) of the draft; the Markdown parses with ``knowledge.runbooks``."""
    kinds = finding_kinds(record)
    if not record.alertname and not kinds:
        raise DraftError(
            f"incident {record.id} has neither an alert name nor findings: a runbook would match nothing"
        )
    rid = (
        "draft-"
        + slug(record.fault_class or record.alertname or record.title)[:40]
        + "-"
        + slug(record.id)[-12:]
    )
    diags, fixes = diagnostics(record, rows), remediations(record)
    front = {
        "id": rid,
        "title": redact_text(record.title),
        "fault_class": record.fault_class or slug(record.alertname or "unclassified").replace("-", "_"),
        "draft": True,
        "match": {"alerts": [record.alertname] if record.alertname else [], "findings": kinds, "labels": {}},
        "diagnostics": diags,
        "remediations": fixes,
    }
    text = (
        "---\n"
        + yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
        + "---\n\n"
        + _body(record, diags, fixes)
    )
    parse_runbook(text, f"draft of {record.id}")  # a draft that does not parse is never written
    return rid, text


def write_draft(record: IncidentRecord, rows: Sequence[AuditRow], folder: Path) -> Path:
    """Write the draft to ``folder/<id>.md`` (replacing an earlier draft of the same incident)."""
    rid, text = draft_runbook(record, rows)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rid}.md"
    path.write_text(text, encoding="utf-8")
    return path
