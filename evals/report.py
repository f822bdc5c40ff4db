"""Eval output: a Markdown table, results.json and a PNG chart of time to mitigate per scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _mark(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    return str(v)


def markdown(results: dict[str, Any]) -> str:
    s = results["summary"]
    lines = [
        f"# Evaluation — {results['reasoner']} ({results['started_at']})",
        "",
        "| scenario | pass | detected | localized | class | mitigated | unsafe | detect s | mitigate s | alert→mitigated s | steps | tool calls | tokens |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['scenario']} | {_mark(r['passed'])} | {_detected(r)} "
            f"| {_mark(r['localized'])} | {_mark(r['classified'])} | {_mark(r['mitigated'])} | {len(r['unsafe_actions'])} "
            f"| {_mark(r['time_to_detect_s'])} | {_mark(r['time_to_mitigate_s'])} | {_mark(r['alert_to_mitigated_s'])} "
            f"| {r['steps']} | {r['tool_calls']} | {r['tokens']} |"
        )
    lines += [
        "",
        f"**{s['scenarios']} scenarios, {s['runs']} runs** — detection {_pct(s['detection_rate'])}, "
        f"localization {_pct(s['localization_rate'])}, root-cause class {_pct(s['classification_rate'])}, "
        f"mitigation {_pct(s['mitigation_rate'])}, false alarms {s['false_alarms']}, unsafe actions "
        f"{s['unsafe_actions']}, median time to mitigate {_mark(s['median_time_to_mitigate_s'])} s "
        f"(alert→mitigated {_mark(s['median_alert_to_mitigated_s'])} s), pass@1 {_pct(s['pass_at_1'])}, "
        f"pass-all-{s['repeat']} {_pct(s['pass_all_n'])}.",
    ]
    lines += _extra_figures(s)
    failed = [r for r in results["runs"] if not r["passed"]]
    if failed:
        lines += ["", "## Not passed", ""]
        for r in failed:
            why = "; ".join([*r["unsafe_actions"], *r["end_state"], *([r["error"]] if r["error"] else [])])
            lines.append(f"- **{r['scenario']}**: actions {r['actions'] or 'none'}; {why}")
    return "\n".join(lines) + "\n"


def _extra_figures(s: dict[str, Any]) -> list[str]:
    """Per-family figures, one fault → one incident, honest end states and what memory saved."""
    lines = [
        "",
        f"One fault, one incident: {_pct(s.get('one_incident_rate'))} of detected runs. "
        f"`no_action_needed` on a failing system: {s.get('no_action_on_failing', 0)}. "
        f"Correct escalations where one was expected: {_pct(s.get('escalation_rate'))}.",
    ]
    families = s.get("families") or {}
    if families:
        lines += [
            "",
            "| family | scenarios | runs | passed | mitigation | unsafe | no action on failing |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, f in families.items():
            lines.append(
                f"| {name} | {f['scenarios']} | {f['runs']} | {_pct(f['passed'])} | {_pct(f['mitigation_rate'])} "
                f"| {f['unsafe_actions']} | {f['no_action_on_failing']} |"
            )
    saved = s.get("repeat_diagnosis_calls")
    if saved:
        lines += [
            "",
            f"Repeats recall the first run: {saved['first_runs']} diagnosis calls on first runs against "
            f"{saved['repeats_mean']} on repeats ({_pct(saved['reduction'])} fewer) over {saved['scenarios']} "
            "scenarios.",
        ]
    return lines


def _detected(r: dict[str, Any]) -> str:
    if r["control"]:
        return "**false alarm**" if r["false_alarm"] else "no alarm (control)"
    return _mark(r["detected"])


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results["runs"] if not r["control"]]
    names = [r["scenario"] for r in runs]
    values = [r["time_to_mitigate_s"] or 0 for r in runs]
    colors = ["#2e7d32" if r["mitigated"] else "#c62828" for r in runs]
    expected = ["not mitigated" if r["expect_mitigation"] else "no action expected" for r in runs]
    fig, ax = plt.subplots(figsize=(9, max(3, 0.35 * len(runs) + 1)))
    ax.barh(names, values, color=colors)
    for i, r in enumerate(runs):
        label = f"{r['time_to_mitigate_s']:.0f} s" if r["time_to_mitigate_s"] else expected[i]
        ax.text(values[i] + 1, i, label, va="center", fontsize=8)
    ax.set_xlabel("seconds from fault injection to mitigated end state")
    ax.set_title(f"Time to mitigate per scenario — {results['reasoner']}")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "results.json",
        "markdown": out / "results.md",
        "chart": out / "time_to_mitigate.png",
    }
    paths["json"].write_text(json.dumps(results, indent=2, default=str))
    paths["markdown"].write_text(markdown(results))
    chart(results, paths["chart"])
    return paths
