"""Sections other modules contribute to the compliance report, found through a small registry.

A section builder is a function ``compliance_section(ctx: SectionContext) -> Section`` in its own
module. :data:`REGISTRY` names the module of each; a module that is not importable in this build
(the feature has not landed, or its dependency is not installed) renders "not available in this
build", and a builder that raises renders its error; neither stops the report. To wire a feature,
add ``agent/reports/<name>_section.py`` with ``compliance_section`` (the posture and drift entries
below already point there), or :func:`register` another :class:`SectionSpec`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.policy import Policy

SectionStatus = Literal["ok", "attention", "failed", "unavailable", "error"]
UNAVAILABLE = "not available in this build"


@dataclass(frozen=True)
class SectionContext:
    """What a section builder gets: the period, the policy and the settings (for its own stores)."""

    since: datetime
    until: datetime
    policy: Policy
    settings: Any = None


class Section(BaseModel):
    """One section of the report: a one-line result, Markdown lines and JSON data."""

    name: str
    title: str
    status: SectionStatus
    headline: str = Field(description="One line for the report's summary table.")
    lines: list[str] = Field(default_factory=list, description="The section's Markdown body.")
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class SectionSpec:
    """Where a section's builder lives: ``module.attr`` (``attr`` default ``compliance_section``)."""

    name: str
    title: str
    module: str
    attr: str = "compliance_section"


@dataclass
class Registry:
    specs: list[SectionSpec] = field(default_factory=list)


REGISTRY = Registry(
    [
        SectionSpec("posture", "Security posture", "agent.reports.posture_section"),
        SectionSpec("drift", "Drift against desired state", "agent.reports.drift_section"),
    ]
)


def register(spec: SectionSpec, registry: Registry = REGISTRY) -> None:
    """Add a section (or replace the one with the same name)."""
    registry.specs[:] = [s for s in registry.specs if s.name != spec.name] + [spec]


def _unavailable(spec: SectionSpec, missing: str) -> Section:
    return Section(
        name=spec.name,
        title=spec.title,
        status="unavailable",
        headline=UNAVAILABLE,
        lines=[f"{spec.title}: {UNAVAILABLE} (module `{missing}` is not installed)."],
        data={"missing_module": missing},
    )


def build_section(spec: SectionSpec, ctx: SectionContext) -> Section:
    """One section; never raises (a missing module or a failing builder is said in the section)."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        return _unavailable(spec, exc.name or spec.module)
    builder = getattr(module, spec.attr, None)
    if not callable(builder):
        return _unavailable(spec, f"{spec.module}.{spec.attr}")
    try:
        section = builder(ctx)
    except Exception as exc:  # one broken section must not hide the audit chain's verdict
        return Section(
            name=spec.name,
            title=spec.title,
            status="error",
            headline=f"could not be built: {type(exc).__name__}: {exc}",
            lines=[f"{spec.module}.{spec.attr} failed: {type(exc).__name__}: {exc}"],
        )
    if not isinstance(section, Section):
        got = type(section).__name__
        return Section(
            name=spec.name,
            title=spec.title,
            status="error",
            headline=f"{spec.module}.{spec.attr} returned {got}, not a Section",
        )
    return section


def build_sections(ctx: SectionContext, registry: Registry = REGISTRY) -> list[Section]:
    """Every registered section, in registry order."""
    return [build_section(spec, ctx) for spec in registry.specs]
