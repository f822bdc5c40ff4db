"""Section builders for the compliance report's registry test: one that works, one that raises."""

from __future__ import annotations

from agent.reports.sections import Section, SectionContext


def compliance_section(ctx: SectionContext) -> Section:
    period = f"{ctx.since:%Y-%m-%d} → {ctx.until:%Y-%m-%d}"
    return Section(name="fake", title="Fake", status="ok", headline="all good", lines=[f"{period}: all good"])


def broken_section(ctx: SectionContext) -> Section:
    raise RuntimeError("posture store locked")
