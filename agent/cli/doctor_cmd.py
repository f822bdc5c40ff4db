"""`devops-agent doctor`: each backend checked on its own (agent/cli/doctor_checks.py), without the graph."""

from __future__ import annotations

import typer

from agent.cli import app
from agent.cli.common import console, settings


@app.command()
def doctor() -> None:
    """Check every backend (LLM, Kubernetes, Prometheus, Loki, Alertmanager, memory, database, policy)."""
    from agent.cli.doctor_checks import all_checks

    s = settings()
    failed = False
    for run in all_checks(s):
        check = run()
        if check.ok:
            mark = "[green]OK  [/]"
        elif check.required:
            mark = "[red]FAIL[/]"
            failed = True
        else:
            mark = "[yellow]WARN[/]"
        console.print(f"{mark} {check.name:<12} {check.detail}", highlight=False, soft_wrap=True)
        if not check.ok and check.fix:
            console.print(f"     {'':<12} fix: {check.fix}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)
