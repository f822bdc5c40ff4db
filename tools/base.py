"""The tool contract (DESIGN.md "Tool").

A tool is a plain typed function whose first parameter is the :class:`ToolDeps` dependency object::

    @tool(risk="read")
    def prometheus_query(deps: ToolDeps, query: str, time: str | None = None) -> ToolResult:
        '''Run an instant PromQL query. Use it to ... Example: prometheus_query(query="up == 0")'''

The argument model the model sees is built from the signature (``Annotated[T, Field(description=...)]``
for per-argument help), the description from the docstring, so the two cannot drift apart.
Write and destructive tools also take a keyword-only ``dry_run: bool`` that the model never sees:
the graph calls them with ``dry_run=True`` (server-side dry run, diff, undo) before it applies them.

Tools never raise for expected failures: they return a :class:`ToolResult` with ``status="error"``.
:meth:`Tool.invoke` turns unexpected exceptions and invalid arguments into error results as well.
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

Risk = Literal["read", "write", "destructive"]
Status = Literal["ok", "error", "no_data"]
RISK_ORDER: dict[str, int] = {"read": 0, "write": 1, "destructive": 2}


class Target(BaseModel):
    """What an action changes: enough for the guard to apply its guardrails."""

    kind: str = Field(description="Kubernetes kind, e.g. Deployment, Pod, Node, ConfigMap.")
    name: str
    namespace: str | None = None
    context: str | None = Field(None, description="Kubeconfig context (cluster); None = the default one.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the target object.")


class Undo(BaseModel):
    """How to revert an applied action: another tool call."""

    tool: str
    args: dict[str, Any]
    description: str = ""


class ActionEffect(BaseModel):
    """What a write/destructive tool reports about a dry run or an applied change."""

    target: Target
    diff: str = Field("", description="Human-readable diff of the change (unified diff or 'a -> b' lines).")
    changed: bool = Field(
        True, description="False when the object is already in the requested state (no-op)."
    )
    undo: Undo | None = None
    replicas_before: int | None = None
    replicas_after: int | None = None
    pods_total: int | None = Field(None, description="Pods of the workload before the change.")
    pods_disrupted: int | None = Field(
        None, description="Pods the change restarts, evicts or deletes at once."
    )
    expected_effect: str = ""


class ToolResult(BaseModel):
    """One result type for every tool."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: Status
    text: str = Field(description="Compact, redacted, budget-sized text for the model.")
    data: Any = Field(None, description="Structured data for code (analyzers, planner, tests).")
    truncated: bool = False
    raw_path: str | None = Field(None, description="File holding the full raw output when it was too large.")
    effect: ActionEffect | None = Field(None, description="Set by write/destructive tools.")
    duration_s: float = 0.0

    @classmethod
    def ok(cls, text: str, data: Any = None, **kw: Any) -> ToolResult:
        return cls(status="ok", text=text, data=data, **kw)

    @classmethod
    def error(cls, text: str, data: Any = None, **kw: Any) -> ToolResult:
        return cls(status="error", text=text, data=data, **kw)

    @classmethod
    def no_data(cls, text: str, data: Any = None, **kw: Any) -> ToolResult:
        return cls(status="no_data", text=text, data=data, **kw)


class ToolDeps(Protocol):
    """What tools receive: clients and limits, passed in (tests hand in fakes).

    The concrete class lives in ``tools.deps``; the agent builds it from its settings.
    """

    token_budget: int
    raw_dir: Path

    def kube(self, context: str | None = None) -> Any:
        """A ``kubernetes.client.ApiClient`` for a kubeconfig context (None = default)."""

    def prometheus(self) -> Any:
        """The Prometheus client (``tools.prometheus`` knows its type)."""

    def loki(self) -> Any:
        """The Loki client (``tools.loki`` knows its type)."""

    def journal(self) -> Any:
        """The change journal's store (``tools.journal.JournalStore``), or None without a journal."""


@dataclass(frozen=True)
class Tool:
    """A registered tool: the function, its argument model and its declared risk."""

    name: str
    description: str
    risk: Risk
    func: Callable[..., ToolResult]
    args_model: type[BaseModel]
    tags: tuple[str, ...] = field(default=())

    @property
    def is_action(self) -> bool:
        return self.risk != "read"

    def openai_schema(self) -> dict[str, Any]:
        """The function schema sent to an OpenAI-compatible endpoint."""
        params = compact_schema(self.args_model.model_json_schema())
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def validate(self, args: dict[str, Any]) -> BaseModel:
        """Validate arguments; raises ``ValidationError``."""
        return self.args_model.model_validate(args)

    def invoke(self, deps: ToolDeps, args: dict[str, Any], *, dry_run: bool = False) -> ToolResult:
        """Validate and run; never raises. Invalid arguments and crashes become error results."""
        started = time.monotonic()
        try:
            parsed = self.validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors()
            )
            return ToolResult.error(f"invalid arguments for {self.name}: {problems}")
        kwargs = parsed.model_dump()
        if self.is_action:
            kwargs["dry_run"] = dry_run
        try:
            result = self.func(deps, **kwargs)
        except Exception as exc:  # a tool bug must not kill the run
            result = ToolResult.error(f"{self.name} failed: {type(exc).__name__}: {exc}")
        result.duration_s = time.monotonic() - started
        return result


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The argument schema the model sees, without tokens that carry no information.

    Drops titles, ``additionalProperties: false`` (validation still forbids extra arguments) and
    ``default: null|false`` and the ``type`` of string enums, and turns ``anyOf: [T, null]`` into ``T``: an optional argument is simply
    not listed in ``required``. Small local models read (and pay for) every token of it.
    """
    out = {k: v for k, v in schema.items() if k not in ("title", "additionalProperties")}
    props = {}
    for name, prop in out.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        variants = prop.get("anyOf")
        if isinstance(variants, list) and len(variants) == 2 and {"type": "null"} in variants:
            kept = next(v for v in variants if v != {"type": "null"})
            prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **kept}
        if "default" in prop and (prop["default"] is None or prop["default"] is False):
            del prop["default"]  # absent means None/False anyway
        if "enum" in prop and prop.get("type") == "string":
            del prop["type"]  # the enum says it
        props[name] = prop
    if props:
        out["properties"] = props
    return out


def _args_model(name: str, func: Callable[..., Any]) -> type[BaseModel]:
    sig = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    params = list(sig.parameters.values())[1:]  # skip deps
    for p in params:
        if p.name == "dry_run":
            continue
        annotation = hints.get(p.name, Any)
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (annotation, default)
    model_name = "".join(part.capitalize() for part in name.split("_")) + "Args"
    return create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)


def tool(
    risk: Risk, *, name: str | None = None, tags: tuple[str, ...] = ()
) -> Callable[[Callable[..., ToolResult]], Tool]:
    """Declare a function as a tool with its risk. The docstring is the model-facing description."""

    def wrap(func: Callable[..., ToolResult]) -> Tool:
        tool_name = name or func.__name__
        doc = inspect.getdoc(func)
        if not doc:
            raise TypeError(f"tool {tool_name} needs a docstring: it is the description the model sees")
        if risk != "read" and "dry_run" not in inspect.signature(func).parameters:
            raise TypeError(f"{risk} tool {tool_name} must take a keyword-only dry_run: bool")
        return Tool(
            name=tool_name,
            description=doc,
            risk=risk,
            func=func,
            args_model=_args_model(tool_name, func),
            tags=tags,
        )

    return wrap
