"""`make bench`: run every benchmark (one after another: they measure time and CPU), then write
``benchmarks/results/summary.md`` and refresh the figures quoted in the README.

    python -m benchmarks.run [--only memory,footprint,tools,cli] [--quick]
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
    "timing": (["benchmarks/sandbox_fault_timing.py"], [], "sandbox_fault_timing.json"),
    "rightsizing": (["-m", "benchmarks.rightsizing"], [], "rightsizing.json"),
    "cli": (["-m", "benchmarks.cli_startup"], ["--runs", "3"], "cli_startup.json"),
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
        t = tools.get("summary") or {}
        lines.append(
            f"- **Tool output for the model** ({tools.get('fault', 'a fault')} investigation, "
            f"{len(tools.get('calls') or [])} tool calls): raw API output {_fmt(t.get('raw tokens'))} tokens, "
            f"shaped {_fmt(t.get('shaped tokens'))} ({t.get('reduction')} less); all {t.get('tools')} tool schemas "
            f"{_fmt(t.get('all tool schemas (tokens)'))} tokens; median tool latency {_fmt(t.get('median tool latency (ms)'))} ms "
            f"(slowest: {t.get('slowest tool')})."
        )
    fp = _load("footprint")
    if fp:
        total = fp.get("total") or {}
        lines.append(
            f"- **Sandbox idle footprint** (server + Prometheus + Alertmanager): "
            f"{100 * float(total.get('cpu_core_share') or 0):.1f}% of one core, {_fmt(total.get('rss_mib'))} MiB RSS "
            "(targets: 25%, 1 GiB)."
        )
    timing = _load("timing")
    if timing:
        alerts = [
            max(v["alert_s"].values()) for v in (timing.get("faults") or {}).values() if v.get("alert_s")
        ]
        heals = [
            v["heal_to_end_state_s"]
            for v in (timing.get("faults") or {}).values()
            if v.get("heal_to_end_state_s")
        ]
        if alerts:
            lines.append(
                f"- **Fault timing** ({len(alerts)} faults): injection to alert in Alertmanager "
                f"{min(alerts):.0f}-{max(alerts):.0f} s (target 60 s); fix to end-state check passing "
                f"{min(heals):.0f}-{max(heals):.0f} s."
            )
    mem = _load("memory")
    if mem:
        for row in mem.get("results") or []:
            lines.append(_memory_line(row))
    rs = _load("rightsizing")
    if rs:
        o, k = rs["summary"]["ours"], rs["summary"]["krr"]
        lines.append(
            f"- **Right-sizing** ({len(rs['workloads'])} synthetic workloads, {rs['history_days']} days of history, "
            f"judged on the next {rs['judged_on_days']}): CPU request vs the true p95 off by "
            f"{o['cpu_request_mean_abs_error']:.1%} on average (KRR's simple strategy {k['cpu_request_mean_abs_error']:.1%}); "
            f"memory limit vs the true peak {o['memory_limit_mean_abs_error']:.1%} ({k['memory_limit_mean_abs_error']:.1%}); "
            f"OOM kills next week: ours {len(o['workloads_oom_next_week'])}, KRR {len(k['workloads_oom_next_week'])} "
            f"(differs from KRR on: {', '.join(rs['summary']['differ_from_krr']) or 'none'})."
        )
    cli = _load("cli")
    if cli:
        rows = [
            f"`devops-agent {name}` {row['median_s']:.2f} s, {row['median_peak_rss_mib']:.0f} MiB peak RSS "
            f"(target {row['target_s']} s)"
            for name, row in (cli.get("commands") or {}).items()
        ]
        floor = (cli.get("floors") or {}).get("typer with rich help")
        rows += [f"importing typer and its rich help alone {floor['median_s']:.2f} s"] if floor else []
        lines.append(f"- **CLI start** (median of {cli.get('runs')} fresh processes): {'; '.join(rows)}.")
    lines.append("")
    lines.append(
        "Measured on this project's 2-core machine, shared with other work; compare runs on one machine."
    )
    return "\n".join(lines) if len(lines) > 2 else "(no results yet: run `make bench`)"


def _memory_line(row: dict[str, Any]) -> str:
    line = (
        f"- **Memory** at {row['incidents']:,} incidents: insert {_fmt(row['insert_per_s'])}/s, "
        f"recall p50 {_fmt(row['recall_p50_ms'])} ms, p95 {_fmt(row['recall_p95_ms'])} ms"
    )
    old = row.get("chroma_only")
    if old:  # the same store, through Chroma's filtered query (the server path, and the only one before)
        line += (
            f" (Chroma's filtered query alone, as against a server: p50 {_fmt(old['recall_p50_ms'])} ms, "
            f"p95 {_fmt(old['recall_p95_ms'])} ms)"
        )
    return line + "."


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
