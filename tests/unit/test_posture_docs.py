"""docs/posture.md shows every check as the registry has it (the Checkov tables are measured by
tests/integration/test_posture_checkov.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.posture.catalog import markdown

pytestmark = pytest.mark.timeout(30)
DOC = Path(__file__).resolve().parents[2] / "docs" / "posture.md"


def test_the_check_table_is_the_registry() -> None:
    text = DOC.read_text()
    block = text.split("<!-- checks -->\n", 1)[1].split("\n<!-- /checks -->", 1)[0]
    assert block.strip() == markdown(), "regenerate it: python -m tools.posture.catalog"
