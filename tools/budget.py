"""Output budget: every result the model sees fits a token budget.

Tokens are *estimated* as characters / 4 (rounded up): close enough for English, code and logs with
the common BPE tokenizers, and free of any tokenizer download. Truncation is deterministic and says
what it cut; the full raw output can be written to ``raw_dir`` and referred to by path.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from tools.base import ToolDeps, ToolResult
from tools.redact import redact_obj, redact_text

CHARS_PER_TOKEN = 4
Keep = Literal["head", "tail"]


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text``: ``ceil(len / 4)``."""
    return -(-len(text) // CHARS_PER_TOKEN)


def fit_text(text: str, budget_tokens: int, *, keep: Keep = "head") -> tuple[str, bool]:
    """Cut ``text`` to ``budget_tokens`` on line boundaries; returns ``(text, truncated)``.

    ``keep="head"`` keeps the first lines (tables sorted by importance), ``"tail"`` the last ones
    (logs). The cut is announced in a final (or first) line: how many lines and tokens were left out.
    """
    if estimate_tokens(text) <= budget_tokens:
        return text, False
    lines = text.splitlines()
    limit = max(budget_tokens * CHARS_PER_TOKEN - 120, 0)  # room for the notice
    ordered = lines if keep == "head" else list(reversed(lines))
    kept: list[str] = []
    used = 0
    for line in ordered:
        cost = len(line) + 1
        if used + cost > limit:
            if not kept and limit > 0:  # one huge line: keep a prefix of it
                kept.append(line[: max(limit - 1, 0)])
            break
        kept.append(line)
        used += cost
    if keep == "tail":
        kept.reverse()
    cut_lines = len(lines) - len(kept)
    cut_tokens = estimate_tokens(text) - estimate_tokens("\n".join(kept))
    where = "last" if keep == "tail" else "first"
    notice = (
        f"[truncated: showing the {where} {len(kept)} of {len(lines)} lines; "
        f"{cut_lines} lines (~{cut_tokens} tokens) cut to fit the {budget_tokens}-token budget]"
    )
    body = "\n".join(kept)
    return (f"{notice}\n{body}" if keep == "tail" else f"{body}\n{notice}"), True


def save_raw(raw_dir: Path, name: str, content: Any) -> Path:
    """Write a (redacted) raw result to ``raw_dir`` under a content-addressed name; returns the path."""
    payload = content if isinstance(content, str) else json.dumps(redact_obj(content), indent=1, default=str)
    payload = redact_text(payload) if isinstance(content, str) else payload
    digest = hashlib.sha256(payload.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
    raw_dir.mkdir(parents=True, exist_ok=True)
    path = raw_dir / f"{safe}-{digest}.{'txt' if isinstance(content, str) else 'json'}"
    path.write_text(payload)
    return path


def shaped(
    deps: ToolDeps,
    name: str,
    text: str,
    data: Any = None,
    *,
    raw: Any = None,
    status: Literal["ok", "no_data"] = "ok",
    keep: Keep = "head",
) -> ToolResult:
    """The standard way a read tool returns: redacted, fitted to the budget, raw saved when cut."""
    fitted, truncated = fit_text(redact_text(text), deps.token_budget, keep=keep)
    raw_path: str | None = None
    if truncated:
        path = save_raw(deps.raw_dir, name, raw if raw is not None else text)
        raw_path = str(path)
        fitted += f"\n[full output saved to {path}]"
    return ToolResult(
        status=status, text=fitted, data=redact_obj(data), truncated=truncated, raw_path=raw_path
    )
