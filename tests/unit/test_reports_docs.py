"""docs/reports.md shows real output: every Markdown example on it is a piece of a golden file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(30)


def test_every_example_is_current_output() -> None:
    page = (ROOT / "docs" / "reports.md").read_text()
    examples = re.findall(r"```markdown\n(.*?)```", page, flags=re.DOTALL)
    goldens = [p.read_text() for p in (ROOT / "tests" / "fixtures" / "reports").glob("*.md")]
    assert len(examples) >= 5
    for example in examples:
        for piece in example.strip().split("\n\n"):
            assert any(piece in g for g in goldens), (
                f"docs/reports.md shows output no golden file has:\n{piece}"
            )
