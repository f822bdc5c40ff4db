"""Where campaign tests record what they tried (``make campaign`` sets ``DEVOPS_AGENT_CAMPAIGN_OUT``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

OUT_ENV = "DEVOPS_AGENT_CAMPAIGN_OUT"
RUNS_ENV = "DEVOPS_AGENT_CAMPAIGN_RUNS"


def full_runs() -> int:
    """Runs per behaviour in the full campaign; 0 means the CI-sized subset."""
    return int(os.environ.get(RUNS_ENV) or 0)


def record(section: str, row: dict[str, Any]) -> None:
    """Append one result row to ``$DEVOPS_AGENT_CAMPAIGN_OUT/<section>.jsonl`` when a campaign runs."""
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    path = Path(out) / f"{section}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(row, default=str) + "\n")
