"""Checkov side by side with our checks, on the same manifests: the known-bad fixtures (one defect
each) and the sandbox's seeded platform. The measured tables must be the ones docs/posture.md
states, so the stated agreement cannot go stale.

Checkov lives in .venv-checkov (scripts/setup.sh); CI runs setup first, so there a missing Checkov
is a failure, not a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from sandbox.platform import manifests
from tools.posture.checkov import (
    FIXTURES,
    checkov_binary,
    compare,
    overlap,
    overlap_table,
    run_checkov,
    table,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
DOC = Path(__file__).resolve().parents[2] / "docs" / "posture.md"
BINARY = checkov_binary()
if BINARY is None and not os.environ.get("CI"):
    pytest.skip("checkov is not installed: run scripts/setup.sh", allow_module_level=True)


def _doc_block(name: str) -> str:
    """The text between ``<!-- NAME -->`` and ``<!-- /NAME -->`` in docs/posture.md."""
    text = DOC.read_text()
    start, end = f"<!-- {name} -->\n", f"\n<!-- /{name} -->"
    assert start in text and end in text, f"docs/posture.md lacks the {name} block"
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_checkov_agrees_on_the_known_bad_cases_as_the_docs_say() -> None:
    assert BINARY is not None, "checkov is missing although CI ran scripts/setup.sh"
    rows = compare(FIXTURES, run_checkov(BINARY, FIXTURES))
    verdicts = {r.check.id: r.verdict for r in rows}
    assert all(r.ours for r in rows)  # every one of our checks fires on its bad case
    assert sum(v == "agree" for v in verdicts.values()) >= 30
    assert rows[0].checkov_good == frozenset()  # Checkov passes the good application too
    assert verdicts["pod-privileged"] == "agree" and verdicts["pdb-missing"] == "no equivalent"
    assert table(rows) == _doc_block("checkov-fixtures"), "re-measure: python -m tools.posture.checkov"


def test_checkov_on_the_sandbox_platform_as_the_docs_say(tmp_path: Path) -> None:
    assert BINARY is not None
    for plural, objs in manifests().items():
        (tmp_path / f"{plural}.yaml").write_text(yaml.safe_dump_all(objs))
    rows = overlap(tmp_path, run_checkov(BINARY, tmp_path))
    by_id = {r.check.id: r for r in rows}
    assert by_id["pod-run-as-non-root"].both == 12 and by_id["pod-run-as-non-root"].only_checkov == 0
    assert overlap_table(rows) == _doc_block("checkov-sandbox"), (
        "re-measure: python -m tools.posture.checkov DIR"
    )
