"""Runbooks: Markdown for humans, YAML front matter for the planner (format in docs/CONTRACTS.md).

``load_runbooks()`` reads the packaged ``knowledge/runbooks/*.md`` (through importlib.resources, so
it works from an installed wheel) plus extra directories (``DATA_DIR/runbooks``, where
``knowledge add-runbook`` puts new ones; a runbook there replaces a packaged one with the same id).
Every problem is a :class:`RunbookError` naming the file and the field.

Drafts (``draft: true``, written into ``drafts/`` for review) are never loaded.

``match_runbooks()`` picks the runbooks for an incident, best first; ``Runbook.applicable()`` lists
the remediations whose ``requires``/``unless``/``after`` hold; ``render_args()`` fills argument
templates (``{namespace}``, ``{finding.KIND.KEY}``, ``{label.NAME}``, with ``|add:N`` / ``|scale:F``
for numbers) from the incident and the triage findings.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.vocabulary import FINDING_KINDS, known_tool_names

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)(.*)\Z", re.DOTALL)
_TEMPLATE = re.compile(r"\{([A-Za-z_][\w\-]*(?:\.[\w\-]+)*)(\|(?:add|scale):-?\d+(?:\.\d+)?)?\}")


class RunbookError(ValueError):
    """A runbook cannot be used: ``file: field: problem``."""


class TemplateError(KeyError):
    """A template names a value the incident does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """When a runbook applies: any alert OR any finding, and all labels equal."""

    alerts: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class Diagnostic(_Strict):
    """A read-only tool call the planner runs to confirm the diagnosis."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    why: str = ""


class Remediation(_Strict):
    """A change, with the findings that must be present (requires) and absent (unless)."""

    id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    requires: list[str] = Field(default_factory=list)
    unless: list[str] = Field(default_factory=list)
    after: list[str] = Field(
        default_factory=list, description="Remediation ids of this runbook that must have been applied first."
    )
    expected: str = ""

    def applies(self, finding_kinds: Collection[str], applied: Collection[str] = ()) -> bool:
        """Its preconditions hold for these findings, after these remediation ids were applied."""
        kinds = set(finding_kinds)
        return (
            set(self.requires) <= kinds and not set(self.unless) & kinds and set(self.after) <= set(applied)
        )


class Runbook(_Strict):
    """One runbook: front matter fields plus the Markdown body and where it came from."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    fault_class: str
    match: Match = Field(default_factory=Match)
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    remediations: list[Remediation] = Field(default_factory=list)
    draft: bool = Field(
        False, description="Written from an incident for review (agent.reports.runbook_draft); never loaded."
    )
    body: str = ""
    source: str = ""

    def action_key(self, remediation: Remediation) -> str:
        """The learning key of a remediation: ``runbook_id:remediation_id``."""
        return f"{self.id}:{remediation.id}"

    def applicable(self, finding_kinds: Collection[str], applied: Collection[str] = ()) -> list[Remediation]:
        """Remediations whose preconditions hold, in order of preference.

        ``applied``: what this incident already applied, as remediation ids or action keys
        (``runbook_id:remediation_id``); it unlocks remediations with ``after`` and drops the applied ones.
        """
        done = {a.split(":", 1)[1] if a.startswith(f"{self.id}:") else a for a in applied}
        return [r for r in self.remediations if r.id not in done and r.applies(finding_kinds, done)]

    def relevant_kinds(self) -> set[str]:
        """Finding kinds this runbook decides on: what it matches and its remediations' preconditions."""
        kinds = set(self.match.findings)
        for r in self.remediations:
            kinds |= set(r.requires) | set(r.unless)
        return kinds

    def search_text(self) -> str:
        """What is embedded for retrieval: title, fault class, what it matches, the prose."""
        return "\n".join(
            [
                self.title,
                f"fault class {self.fault_class}",
                "alerts " + " ".join(self.match.alerts),
                "findings " + " ".join(self.match.findings),
                self.body,
            ]
        )


# --- parsing and validation -----------------------------------------------------------------
def parse_runbook(text: str, source: str, tool_names: Collection[str] | None = None) -> Runbook:
    """Parse and validate one runbook; ``source`` names it in errors."""
    m = _FRONT.match(text)
    if not m:
        raise RunbookError(
            f"{source}: no YAML front matter (the file must start with '---' and close it with '---')"
        )
    try:
        front = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: front matter is not valid YAML: {exc}") from None
    if not isinstance(front, dict):
        raise RunbookError(f"{source}: front matter must be a mapping with id, title, fault_class, ...")
    try:
        rb = Runbook.model_validate({**front, "body": m.group(2).strip(), "source": source})
    except ValidationError as exc:
        e = exc.errors()[0]
        raise RunbookError(f"{source}: {_loc(e['loc'])}: {e['msg']} (got {e.get('input')!r})") from None
    _check(rb, source, set(tool_names) if tool_names is not None else known_tool_names())
    return rb


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(front matter)"


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _check(rb: Runbook, source: str, tools: set[str]) -> None:
    def fail(where: str, problem: str) -> None:
        raise RunbookError(f"{source}: {where}: {problem}")

    def kinds(where: str, values: Iterable[str]) -> None:
        for i, kind in enumerate(values):
            if kind not in FINDING_KINDS:
                fail(f"{where}[{i}]", f"unknown finding kind {kind!r}{_suggest(kind, FINDING_KINDS)}")

    kinds("match.findings", rb.match.findings)
    if not rb.match.alerts and not rb.match.findings:
        fail("match", "matches nothing: give at least one alert or finding")
    for i, d in enumerate(rb.diagnostics):
        if d.tool not in tools:
            fail(f"diagnostics[{i}].tool", f"unknown tool {d.tool!r}{_suggest(d.tool, tools)}")
        _check_templates(d.args, f"diagnostics[{i}].args", None, fail)
    seen: set[str] = set()
    for i, r in enumerate(rb.remediations):
        where = f"remediations[{i}]"
        if r.tool not in tools:
            fail(f"{where}.tool", f"unknown tool {r.tool!r}{_suggest(r.tool, tools)}")
        if r.id in seen:
            fail(f"{where}.id", f"duplicate remediation id {r.id!r}")
        seen.add(r.id)
        kinds(f"{where}.requires", r.requires)
        kinds(f"{where}.unless", r.unless)
        for j, earlier in enumerate(r.after):
            if earlier not in seen - {r.id}:
                fail(f"{where}.after[{j}]", f"{earlier!r} is not an earlier remediation of this runbook")
        _check_templates(r.args, f"{where}.args", set(r.requires), fail)


def _check_templates(args: Any, where: str, requires: set[str] | None, fail: Any) -> None:
    """Templates must be well-formed; a remediation may only use findings it requires."""
    if isinstance(args, Mapping):
        for k, v in args.items():
            _check_templates(v, f"{where}.{k}", requires, fail)
    elif isinstance(args, list):
        for i, v in enumerate(args):
            _check_templates(v, f"{where}[{i}]", requires, fail)
    elif isinstance(args, str):
        for m in _TEMPLATE.finditer(args):
            name = m.group(1)
            head, _, rest = name.partition(".")
            if head in ("namespace", "service", "alertname") and not rest:
                continue
            if head == "label" and rest and "." not in rest:
                continue
            if head == "finding" and rest.count(".") == 1:
                kind = rest.split(".")[0]
                if kind not in FINDING_KINDS:
                    fail(
                        where,
                        f"template {{{name}}}: unknown finding kind {kind!r}{_suggest(kind, FINDING_KINDS)}",
                    )
                if requires is not None and kind not in requires:
                    fail(
                        where,
                        f"template {{{name}}} uses finding {kind!r}; add it to requires so the value exists",
                    )
                continue
            fail(
                where,
                f"unknown template {{{name}}}: use namespace, service, alertname, label.X, finding.KIND.KEY",
            )


# --- loading --------------------------------------------------------------------------------
def packaged_dir() -> Any:
    """The packaged runbooks directory (an importlib.resources Traversable)."""
    return resources.files("knowledge").joinpath("runbooks")


def load_runbooks(
    dirs: Sequence[Path] | None = None,
    *,
    tool_names: Collection[str] | None = None,
    include_packaged: bool = True,
) -> list[Runbook]:
    """Packaged runbooks plus ``dirs`` (later ones replace earlier ones with the same id), sorted by id.

    Only ``*.md`` directly in each folder are read, so ``drafts/`` below one is not; and a runbook
    marked ``draft: true`` is skipped wherever it lies: a draft becomes live only once reviewed.
    """
    names = set(tool_names) if tool_names is not None else known_tool_names()
    by_id: dict[str, Runbook] = {}
    sources: list[tuple[str, list[tuple[str, str]]]] = []
    if include_packaged:
        files = sorted((f for f in packaged_dir().iterdir() if f.name.endswith(".md")), key=lambda f: f.name)
        sources.append(
            ("packaged", [(f"knowledge/runbooks/{f.name}", f.read_text(encoding="utf-8")) for f in files])
        )
    for d in dirs or []:
        if d.is_dir():
            sources.append(
                (str(d), [(str(p), p.read_text(encoding="utf-8")) for p in sorted(d.glob("*.md"))])
            )
    for _, files_ in sources:
        seen_here: dict[str, str] = {}
        for source, text in files_:
            rb = parse_runbook(text, source, names)
            if rb.draft:
                continue
            if rb.id in seen_here:
                raise RunbookError(f"{source}: id: {rb.id!r} is already used by {seen_here[rb.id]}")
            seen_here[rb.id] = source
            by_id[rb.id] = rb
    return sorted(by_id.values(), key=lambda r: r.id)


# --- matching -------------------------------------------------------------------------------
def match_score(
    rb: Runbook, alertname: str | None, labels: Mapping[str, str], finding_kinds: Collection[str]
) -> float:
    """0 when it does not match; otherwise higher is better (alert, findings, an applicable fix)."""
    if any(labels.get(k) != v for k, v in rb.match.labels.items()):
        return 0.0
    alert_hit = alertname is not None and alertname in rb.match.alerts
    finding_hits = len(set(finding_kinds) & set(rb.match.findings))
    if not alert_hit and not finding_hits:
        return 0.0
    actionable = 0.5 if rb.applicable(finding_kinds) else 0.0
    return 2.0 * alert_hit + finding_hits + actionable


def match_runbooks(
    runbooks: Sequence[Runbook],
    alertname: str | None,
    labels: Mapping[str, str] | None,
    finding_kinds: Collection[str],
) -> list[Runbook]:
    """Runbooks that match the incident, best first (ties: id order)."""
    scored = [(match_score(rb, alertname, labels or {}, finding_kinds), rb) for rb in runbooks]
    return [rb for s, rb in sorted(scored, key=lambda t: (-t[0], t[1].id)) if s > 0]


# --- templates ------------------------------------------------------------------------------
@dataclass
class TemplateContext:
    """Values templates can use. ``findings`` maps a finding kind to the data of its first finding."""

    namespace: str | None = None
    service: str | None = None
    alertname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        namespace: str | None = None,
        service: str | None = None,
        alertname: str | None = None,
        labels: Mapping[str, str] | None = None,
        findings: Iterable[Any] = (),
    ) -> TemplateContext:
        """From triage findings (objects or dicts with ``kind``, ``severity`` and ``data``).

        When several findings share a kind, the one on a workload that also shows a symptom (a
        warning or critical finding of another kind) wins, then the newest change, then triage's order:
        with every deployment rolled out in the last hour, the rollout to suspect is the one of the
        deployment that is failing, and the latest one.
        """
        rows = [_finding_row(f) for f in findings]
        symptomatic = {
            (kind, dep)
            for kind, sev, data in rows
            if sev != "info"
            for dep in [data.get("deployment")]
            if dep
        }
        by_kind: dict[str, dict[str, Any]] = {}
        best: dict[str, tuple[bool, str]] = {}
        for kind, _, data in rows:
            dep = data.get("deployment")
            related = any(d == dep and k != kind for k, d in symptomatic)
            key = (related, str(data.get("changed_at") or ""))
            if kind not in best or key > best[kind]:
                best[kind], by_kind[kind] = key, data
        return cls(namespace, service, alertname, dict(labels or {}), by_kind)

    def lookup(self, name: str) -> Any:
        head, _, rest = name.partition(".")
        if head in ("namespace", "service", "alertname") and not rest:
            value = getattr(self, head)
        elif head == "label":
            value = self.labels.get(rest)
        elif head == "finding" and "." in rest:
            kind, key = rest.split(".", 1)
            if kind not in self.findings:
                raise TemplateError(f"template {{{name}}}: no {kind} finding in this incident")
            value = self.findings[kind].get(key)
        else:
            raise TemplateError(f"template {{{name}}} is not a known template")
        if value is None or value == "":
            raise TemplateError(f"template {{{name}}} has no value for this incident")
        return value


def _finding_row(f: Any) -> tuple[str, str, dict[str, Any]]:
    """(kind, severity, data) of a finding object or dict."""

    def get(key: str) -> Any:
        return f.get(key) if isinstance(f, Mapping) else getattr(f, key, None)

    return str(get("kind") or ""), str(get("severity") or "warning"), dict(get("data") or {})


def render_args(args: Mapping[str, Any], context: TemplateContext) -> dict[str, Any]:
    """Fill templates; a value that is exactly one template keeps the value's type (int, dict)."""
    return {k: _render(v, context) for k, v in args.items()}


def _render(value: Any, ctx: TemplateContext) -> Any:
    if isinstance(value, Mapping):
        return {k: _render(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, ctx) for v in value]
    if not isinstance(value, str):
        return value
    whole = _TEMPLATE.fullmatch(value)
    if whole:
        return _filtered(ctx, whole)
    return _TEMPLATE.sub(lambda m: str(_filtered(ctx, m)), value)


def _filtered(ctx: TemplateContext, m: re.Match[str]) -> Any:
    """The value of a template, through its optional filter: ``|add:N`` or ``|scale:F`` (rounded up)."""
    value = ctx.lookup(m.group(1))
    if not m.group(2):
        return value
    op, _, operand = m.group(2)[1:].partition(":")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TemplateError(f"template {m.group(0)} needs a number, got {value!r}") from None
    result = number + float(operand) if op == "add" else number * float(operand)
    return math.ceil(result - 1e-9)
