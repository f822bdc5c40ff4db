"""`devops-agent eval run`: score the agent on the sandbox's scenarios."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Evaluate the agent on sandbox scenarios (real alert path, scored on the end state).",
    no_args_is_help=True,
)


@app.command("run")
def run(
    scenarios: Annotated[
        str, typer.Option("--scenarios", help="Glob over scenario names (evals/scenarios/*.yaml).")
    ] = "*",
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, help="Run every scenario N times (pass@1, pass-all-N).")
    ] = 1,
    out: Annotated[
        Path, typer.Option("--out", help="Where results.json, results.md and the chart go.")
    ] = Path("eval-results"),
    model: Annotated[
        str | None,
        typer.Option("--model", help="Evaluate this model on the configured OpenAI-compatible endpoint."),
    ] = None,
    smoke: Annotated[bool, typer.Option("--smoke", help="Only the smoke subset (what CI runs).")] = False,
    sandbox_dir: Annotated[
        Path, typer.Option("--sandbox-dir", help="Sandbox directory for the eval's own sandbox.")
    ] = Path(".sandbox-eval"),
    down: Annotated[bool, typer.Option("--down/--keep", help="Stop the sandbox afterwards.")] = True,
) -> None:
    """Run scenarios on a reset sandbox through the real alert path and score them."""
    from evals.report import markdown, write
    from evals.scenario import ScenarioError, load_scenarios
    from evals.suite import run_suite

    try:
        chosen = load_scenarios(scenarios, smoke=smoke)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    overrides: dict[str, object] = {}
    if model:
        if not (os.environ.get("DEVOPS_AGENT_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")):
            typer.echo(
                "error: --model needs an endpoint: set DEVOPS_AGENT_LLM_BASE_URL (and _LLM_API_KEY)", err=True
            )
            raise typer.Exit(2)
        overrides = {"llm_model": model, "reasoner": "llm"}
    typer.echo(f"evaluating {len(chosen)} scenario(s) x{repeat}: {', '.join(s.name for s in chosen)}")
    results = run_suite(
        chosen,
        out=out,
        sandbox_dir=sandbox_dir,
        repeat=repeat,
        overrides=overrides,
        progress=typer.echo,
        keep_sandbox=not down,
    )
    paths = write(results, out)
    typer.echo("")
    typer.echo(markdown(results))
    typer.echo(f"results: {paths['json']}  table: {paths['markdown']}  chart: {paths['chart']}")
    typer.echo(json.dumps(results["summary"]))


@app.command("rescore")
def rescore_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="A results directory with observations/ from an earlier run.")
    ] = Path("eval-results"),
) -> None:
    """Score saved observations again (no sandbox needed) and rewrite results.json, .md and the chart."""
    from evals.report import markdown, write
    from evals.suite import rescore

    if not (out / "observations").is_dir():
        typer.echo(
            f"error: {out}/observations does not exist; run `devops-agent eval run --out {out}` first",
            err=True,
        )
        raise typer.Exit(2)
    results = rescore(out)
    write(results, out)
    typer.echo(markdown(results))
    typer.echo(json.dumps(results["summary"]))


@app.command("scenarios")
def list_scenarios() -> None:
    """List the scenarios with their faults."""
    from evals.scenario import load_scenarios

    for sc in load_scenarios():
        faults = ", ".join(f"{f.fault}:{f.target or 'default'}" for f in sc.faults)
        typer.echo(f"{sc.name:<30} {faults:<50} approver={sc.approver}{'  [smoke]' if sc.smoke else ''}")
