"""SARIF 2.1.0: one rule per check, one result per failing object (file and line for manifests, a
logical location ``Kind/namespace/name`` for live objects)."""

from __future__ import annotations

from typing import Any

from tools.posture.model import Check, Finding, ref
from tools.posture.run import Report

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0"}


def _rule(c: Check) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": "".join(part.capitalize() for part in c.id.split("-")),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": c.why},
        "help": {"text": c.fix},
        "defaultConfiguration": {"level": LEVEL[c.severity]},
        "properties": {
            "family": c.family,
            "severity": c.severity,
            "security-severity": SECURITY_SEVERITY[c.severity],
            "checkov": list(c.checkov),
            "tags": ["security", "kubernetes", c.family],
        },
    }


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [{"fullyQualifiedName": ref(f.obj), "kind": "resource"}],
    }
    if f.source.path:
        location["physicalLocation"] = {
            "artifactLocation": {"uri": f.source.path},
            "region": {"startLine": f.source.line or 1},
        }
    return {
        "ruleId": f.check.id,
        "ruleIndex": index[f.check.id],
        "level": LEVEL[f.check.severity],
        "message": {"text": f"{ref(f.obj)}: {'; '.join(f.problems)}. Fix: {f.check.fix}"},
        "locations": [location],
    }


def to_sarif(report: Report, version: str = "0") -> dict[str, Any]:
    index = {c.id: i for i, c in enumerate(report.checks)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "devops-agent posture",
                        "version": version,
                        "rules": [_rule(c) for c in report.checks],
                    }
                },
                "results": [_result(f, index) for f in report.findings],
            }
        ],
    }
