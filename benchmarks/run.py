"""`make bench`: run every benchmark (one after another: they measure time and CPU), then write
``benchmarks/results/summary.md`` and refresh the figures quoted in the README.

    python -m benchmarks.run [--only memory,footprint,tools] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BENCHES: dict[str, tuple[list[str], list[str], str]] = {
    # name: (command, quick extra args, result file)
    "tools": (["-m", "benchmarks.tool_tokens"], [], "tool_tokens.json"),
    "footprint": (
        ["benchmarks/sandbox_footprint.py"],
        ["--settle", "15", "--seconds", "30"],
        "sandbox_footprint.json",
    ),
    "memory": (["-m", "benchmarks.memory_bench"], ["--sizes", "1000,10000"], "memory.json"),
}
START, END = "<!-- bench-results -->", "<!-- /bench-results -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / BENCHES[name][2]
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3g}{unit}" if abs(v) < 100 else f"{v:,.0f}{unit}"
    return f"{v:,}{unit}" if isinstance(v, int) else f"{v}{unit}"


def summary() -> str:
    lines = []
    tools = _load("tools")
    if tools:
        lines.append(
            f"- **Tool output** ({tools.get('scenario', 'standard investigation')}): "
            + "; ".join(f"{k}: {_fmt(v)}" for k, v in (tools.get("summary") or {}).items())
        )
    fp = _load("footprint")
    if fp:
        s = fp.get("summary") or fp
        lines.append(
            "- **Sandbox idle footprint**: "
            + "; ".join(f"{k}: {_fmt(v)}" for k, v in s.items() if not isinstance(v, (dict, list)))
        )
    mem = _load("memory")
    if mem:
        rows = mem.get("sizes") or mem.get("results") or []
        for row in rows if isinstance(rows, list) else []:
            lines.append(
                "- **Memory** "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in row.items() if not isinstance(v, (dict, list)))
            )
    return "\n".join(lines) or "(no results yet: run `make bench`)"


def update_readme(text: str) -> None:
    readme = ROOT / "README.md"
    body = readme.read_text()
    if START not in body or END not in body:
        return
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    p.add_argument("--quick", action="store_true", help="smaller sizes and shorter samples")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README's figures")
    args = p.parse_args(argv)
    failed = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        cmd, quick, _ = BENCHES[name]
        print(f"== {name}", flush=True)
        rc = subprocess.call([sys.executable, *cmd, *(quick if args.quick else [])], cwd=ROOT)
        if rc != 0:
            failed.append(name)
    text = summary()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(text + "\n")
    if not args.no_readme:
        update_readme(text)
    print(text)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
