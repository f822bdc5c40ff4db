"""`make demo`: the whole loop on the sandbox, narrated.

A fault is injected; the sandbox's real Prometheus fires, its real Alertmanager calls the agent's
webhook; the agent triages, diagnoses with its tools, proposes a fix that waits for approval
(approved here by a scripted operator, as a human would from the CLI, Slack or HTTP), applies it
after a dry run, verifies the end state, and remembers the incident. Then the same fault again, to
show the memory at work.

    python -m evals.demo [--fault bad-deploy] [--target predictor] [--keep] [--no-repeat]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from agent.approvals import ApprovalDecision, ApprovalError
from evals.harness import EvalEnv, firing_alerts, open_env, reset_world
from sandbox import faults as fault_catalog
from sandbox import lifecycle

console = Console()

DIAGNOSIS = ("intake", "triage", "read")
"""Tool-call purposes that diagnose (the rest verify a change or check health at the end)."""


class Narrator:
    """A serve notifier that prints what the agent does as it happens."""

    def incident_opened(self, incident: dict[str, Any]) -> None:
        console.print(
            f"[bold red]ALERT[/] {incident.get('alertname')} on {incident.get('service')} "
            f"→ incident [bold]{incident['id']}[/]"
        )

    def incident_event(self, incident: dict[str, Any], event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "tool_started" and event.get("purpose") not in ("dry_run", "apply"):
            console.print(f"  [cyan]tool[/] {event.get('tool')} {_short(event.get('args'))}")
        elif kind == "status" and event.get("phase") in ("recall", "learn"):
            console.print(f"  [magenta]{event.get('phase')}[/] {event.get('text')}")
        elif kind == "verdict":
            console.print(
                f"  [yellow]guard[/] {event.get('tool')}: {event.get('decision')} — {'; '.join(event.get('reasons') or [])}"
            )
        elif kind == "action":
            console.print(
                f"  [green]act[/] {event.get('tool')}: {event.get('status')} {str(event.get('text') or '')[:120]}"
            )
        elif kind == "verify":
            console.print(
                f"  [green]verify[/] {event.get('tool')}: {event.get('outcome')} {str(event.get('detail') or '')[:120]}"
            )

    def investigation_finished(self, incident: dict[str, Any], outcome: dict[str, Any]) -> None:
        console.print(f"  [bold]status[/] {outcome.get('status')}: {str(outcome.get('summary') or '')[:300]}")

    def incident_closed(self, incident: dict[str, Any], postmortem: str) -> None:
        console.print(
            f"[bold green]RESOLVED[/] Alertmanager reports {incident.get('alertname')} resolved; incident closed"
        )


def _short(args: Any) -> str:
    text = ", ".join(f"{k}={v}" for k, v in (args or {}).items())
    return text if len(text) < 110 else text[:107] + "..."


def _approve_when_asked(env: EvalEnv, stop: threading.Event, count: list[int]) -> None:
    while not stop.wait(1.0):
        for req in env.service.approvals.list(status="pending"):
            console.print(
                Panel.fit(
                    f"[bold]{req.tool}[/] on {req.target.kind} {req.target.namespace}/{req.target.name} (risk {req.risk})\n"
                    f"reason: {req.reason}\n\ndry-run diff:\n{req.diff}\n\nundo: {req.undo.tool if req.undo else '-'} "
                    f"{req.undo.args if req.undo else ''}",
                    title=f"approval needed: {req.id}",
                    border_style="yellow",
                )
            )
            console.print(
                "  (a human would run `devops-agent approvals approve "
                f"{req.id}` or click Approve in Slack; the demo operator approves now)"
            )
            try:
                env.service.resume(
                    req.id, ApprovalDecision(approval_id=req.id, decision="approve", approver="demo:operator")
                )
                count[0] += 1
            except ApprovalError as exc:
                console.print(f"  approval: {exc}")


def run_once(env: EvalEnv, fault: str, target: str | None, timeout_s: float = 240) -> dict[str, Any]:
    spec = fault_catalog.get_fault(fault, target)
    before = {i["id"] for i in env.service.queue.incidents(limit=10000)}
    console.rule(f"inject {spec.name} on {spec.target}: {spec.description}")
    fault_catalog.inject(env.api, spec, env.control)
    t0 = time.time()
    stop, approved = threading.Event(), [0]
    approver = threading.Thread(target=_approve_when_asked, args=(env, stop, approved), daemon=True)
    approver.start()
    mitigated_at = None
    try:
        while time.time() - t0 < timeout_s:
            ids = {i["id"] for i in env.service.queue.incidents(limit=10000)} - before
            applied = [r for r in env.audit.rows(kind="action_applied") if r.incident_id in ids]
            if applied and mitigated_at is None:
                ok, detail = spec.check_end_state(env.api, env.sandbox.prometheus_url)
                if ok:
                    mitigated_at = time.time()
                    console.print(f"[bold green]MITIGATED[/] after {mitigated_at - t0:.0f} s: {detail}")
            if mitigated_at and not any(
                a["labels"].get("service") in spec.affected_services
                for a in firing_alerts(env.sandbox.prometheus_url)
            ):
                break
            time.sleep(3)
    finally:
        stop.set()
        approver.join(5)
    ids = {i["id"] for i in env.service.queue.incidents(limit=10000)} - before
    calls = [r for iid in ids for r in env.audit.rows(incident_id=iid) if r.kind == "tool_call"]
    return {
        "mitigated_s": None if mitigated_at is None else mitigated_at - t0,
        "incidents": sorted(ids),
        "tool_calls": len(calls),
        # what memory can save: the calls that diagnose; verification polls last as long as the signal
        "diagnosis_calls": sum(1 for r in calls if r.data.get("purpose") in DIAGNOSIS),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--fault", default="bad-deploy", help="fault to inject (see `devops-agent sandbox faults`)"
    )
    p.add_argument("--target", default=None)
    p.add_argument("--dir", type=Path, default=Path(".sandbox-demo"), help="sandbox directory")
    p.add_argument("--out", type=Path, default=Path(".demo"), help="agent data directory")
    p.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    p.add_argument("--no-repeat", action="store_true", help="inject the fault once only")
    args = p.parse_args(argv)
    console.rule("[bold]devops-agent demo[/]")
    console.print(
        "starting the sandbox (Kubernetes API stand-in, real Prometheus and Alertmanager, Loki stand-in)"
    )
    try:
        env = open_env(args.out, args.dir, progress=lambda m: console.print(f"  {m}"))
    except lifecycle.SandboxError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    env.service.notifiers.append(Narrator())
    console.print(
        f"agent: offline runbook planner={'no' if env.settings.use_llm else 'yes'}; policy: changes in "
        "market-predictor wait for approval; data in " + str(env.settings.data_dir)
    )
    try:
        reset_world(env)
        first = run_once(env, args.fault, args.target)
        results = [first]
        if not args.no_repeat:
            reset_world(env)
            console.print("\nThe same fault again: the agent recalls the first incident and what fixed it.")
            results.append(run_once(env, args.fault, args.target))
        console.rule("summary")
        for n, r in enumerate(results, 1):
            took = f"{r['mitigated_s']:.0f} s" if r["mitigated_s"] is not None else "not mitigated"
            console.print(
                f"run {n}: mitigated in {took} with {r['tool_calls']} tool calls ({r['diagnosis_calls']} to "
                f"diagnose, the rest verifying); incidents {', '.join(r['incidents'])}"
            )
        if first["incidents"]:
            console.print(
                f"\npostmortem: devops-agent incidents report {first['incidents'][0]}   "
                f"(DEVOPS_AGENT_DATA_DIR={env.settings.data_dir})"
            )
        console.print(
            f"audit log: devops-agent audit verify   |   memory: devops-agent knowledge search '{args.fault}'"
        )
        return 0 if first["mitigated_s"] is not None else 1
    finally:
        env.close()
        if not args.keep:
            lifecycle.down(args.dir)


if __name__ == "__main__":
    sys.exit(main())
