"""Run every check over an inventory and score each namespace.

Score of a namespace: every (check, object) pair the check applies to weighs by its severity
(critical 10, high 5, medium 3, low 1); the score is the share of that weight that passed, 0-100:

    score = 100 * (1 - failed weight / applicable weight)

An object that fails one check loses that check's weight once, however many containers fail it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.posture.model import SEVERITY_WEIGHT, Check, Finding, Inventory, namespace_of, ref
from tools.posture.registry import all_checks
from tools.posture.workloads import WORKLOADS


@dataclass
class Score:
    """Applicable and failed weight of one namespace."""

    applicable: int = 0
    failed: int = 0
    findings: int = 0

    @property
    def score(self) -> float:
        return 100.0 if not self.applicable else round(100.0 * (1 - self.failed / self.applicable), 1)


@dataclass
class Report:
    findings: list[Finding]
    scores: dict[str, Score]
    checks: list[Check]
    objects: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "checks": len(self.checks),
            "findings": [f.as_dict() for f in self.findings],
            "namespaces": {
                ns: {
                    "score": s.score,
                    "findings": s.findings,
                    "failed_weight": s.failed,
                    "weight": s.applicable,
                }
                for ns, s in sorted(self.scores.items())
            },
            "notes": self.notes,
        }


def _checked(obj: dict[str, Any]) -> bool:
    """Pods and ReplicaSets a controller owns are judged through their controller."""
    return not (obj.get("kind") in WORKLOADS and (obj.get("metadata") or {}).get("ownerReferences"))


def run_checks(inv: Inventory, checks: list[Check] | None = None, namespace: str | None = None) -> Report:
    """Every check on every object of ``inv`` (only ``namespace``'s, when given)."""
    checks = checks if checks is not None else all_checks()
    findings: list[Finding] = []
    scores: dict[str, Score] = {}
    objs = [o for o in inv.objects if _checked(o) and (namespace is None or namespace_of(o) == namespace)]
    for obj in objs:
        ns = namespace_of(obj)
        for c in checks:
            problems = c.run(obj, inv)
            if problems is None:
                continue
            score = scores.setdefault(ns, Score())
            score.applicable += SEVERITY_WEIGHT[c.severity]
            if problems:
                score.failed += SEVERITY_WEIGHT[c.severity]
                score.findings += 1
                findings.append(Finding(c, obj, tuple(problems), inv.source(obj)))
    order = list(SEVERITY_WEIGHT)
    findings.sort(key=lambda f: (f.namespace, order.index(f.check.severity), f.check.id, ref(f.obj)))
    return Report(findings, scores, checks, len(objs), list(inv.notes))
