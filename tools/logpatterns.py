"""Log templates with ``drain3``: many lines in, a few patterns with counts out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

_MASKS = [
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?", "TIME"),
    (r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])", "IP"),
    (r"(?<![\w])0x[0-9a-fA-F]+(?![\w])", "HEX"),
    # numbers with a unit, decimals, or 4+ digits (3-digit integers are often HTTP status codes: kept)
    (r"(?<![\w.-])[-+]?(?:\d+\.\d+|\d+(?:ms|s|m|h|%|Mi|Gi|MB|KB|B)|\d{4,})(?![\w.])", "NUM"),
]


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.5
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in _MASKS]
    return TemplateMiner(config=config)


def mine_patterns(entries: Sequence[tuple[int, str]], top: int = 25) -> list[dict[str, Any]]:
    """Templates of ``(timestamp_ns, line)`` entries, most frequent first (at most ``top``).

    Each pattern: ``template``, ``count``, ``first_ns``, ``last_ns``, ``example`` (the latest line).
    """
    miner = _miner()
    stats: dict[int, dict[str, Any]] = {}
    for ts, line in entries:
        result = miner.add_log_message(line.strip())
        cid = int(result["cluster_id"])
        s = stats.setdefault(cid, {"count": 0, "first_ns": ts, "last_ns": ts, "example": line.strip()})
        s["count"] += 1
        s["first_ns"], s["last_ns"] = min(s["first_ns"], ts), max(s["last_ns"], ts)
        s["example"] = line.strip() if ts >= s["last_ns"] else s["example"]
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    out = [{"template": templates.get(cid, s["example"]), **s} for cid, s in stats.items()]
    out.sort(key=lambda p: (-p["count"], p["first_ns"]))
    return out[:top]
