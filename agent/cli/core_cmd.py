"""`devops-agent investigate` and `chat` (both run the graph; `doctor` lives in doctor_cmd.py)."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from agent.approvals import ApprovalError
from agent.cli import app
from agent.cli.common import console, err_console, fail, print_json, settings, whoami
from agent.cli.run_view import EventPrinter, ask_approval, show_outcome
from agent.nodes.intake import IntakeError
from agent.policy import PolicyError
from agent.runner import Runner, RunnerError
from agent.settings import Settings

CHAT_HELP = """commands:
  /help        this help
  /incidents   recent incidents
  /approvals   pending approvals (decide them inline when the agent asks, or with `devops-agent approvals`)
  /new         start a new conversation (a new thread)
  /quit        leave (Ctrl-D works too; Ctrl-C interrupts the current answer only)"""


def _runner(s: Settings) -> Runner:
    try:
        return Runner(s)
    except PolicyError as exc:
        fail(str(exc))
    except Exception as exc:  # a backend or store that cannot open: say which, never a traceback
        fail(
            f"cannot start the agent: {type(exc).__name__}: {exc}. Run `devops-agent doctor` to see what is wrong."
        )


def _load_alert(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"alert file {path} does not exist")
    except json.JSONDecodeError as exc:
        fail(f"alert file {path} is not valid JSON: {exc.msg} at line {exc.lineno}")
    if not isinstance(payload, dict):
        fail(f"alert file {path} must hold a JSON object (an Alertmanager webhook or one alert)")
    return payload


@app.command()
def investigate(
    question: str | None = typer.Argument(
        None, help="What to investigate, e.g. 'why is checkout returning 500s?'"
    ),
    alert: Path | None = typer.Option(
        None, "--alert", "-a", help="Alertmanager webhook JSON (v4) or a single alert."
    ),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="Namespace to investigate."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print one JSON object (incident_id, status, root_cause, actions, approvals...).",
    ),
    thread: str | None = typer.Option(None, "--incident", help="Incident id to use (or to continue)."),
    ask: bool = typer.Option(
        True, "--ask/--no-ask", help="In a terminal, ask inline when the run waits for an approval."
    ),
) -> None:
    """Investigate a question or an alert once and print the report."""
    if (question is None) == (alert is None):
        fail('give a question or --alert FILE, e.g. devops-agent investigate "why is checkout slow?"')
    s = settings()
    payload = _load_alert(alert) if alert is not None else None
    runner = _runner(s)
    printer = EventPrinter(err_console if as_json else console, show_tokens=False)
    quiet = as_json and not sys.stderr.isatty()
    try:
        outcome = runner.investigate(
            question, payload, thread_id=thread, namespace=namespace, on_event=None if quiet else printer
        )
        if ask and not as_json and sys.stdin.isatty() and outcome.status == "awaiting_approval":
            outcome = ask_approval(console, runner, outcome, whoami(), printer)
    except (IntakeError, RunnerError, ApprovalError) as exc:
        fail(str(exc))
    finally:
        runner.close()
    if as_json:
        print_json(outcome.to_json())
    else:
        show_outcome(console, outcome)
    if outcome.status == "aborted":
        raise typer.Exit(1)


def _chat_turn(runner: Runner, thread: str, text: str, printer: EventPrinter) -> None:
    try:
        pending = runner.outcome(thread) if runner.waiting_for(thread) else None
        if pending is not None:  # an approval left open (Ctrl-C at the prompt): decide it first
            console.print("[yellow]this conversation still waits for an approval:[/]")
            ask_approval(console, runner, pending, whoami(), printer)
        outcome = runner.investigate(text, thread_id=thread, source="chat", on_event=printer)
        printer.end_stream()
        if outcome.status == "awaiting_approval":
            outcome = ask_approval(console, runner, outcome, whoami(), printer)
    except (IntakeError, RunnerError, ApprovalError) as exc:
        printer.end_stream()
        console.print(f"[red]{exc}[/]", highlight=False)
        return
    if outcome.status in ("aborted", "mitigation_failed"):
        console.print(
            f"[bold red]{outcome.status}[/]: {outcome.stop_reason or outcome.summary}", highlight=False
        )
    elif runner.deps.reasoner.name != "llm":  # the planner does not stream: show its answer
        console.print(outcome.summary, markup=False, highlight=False)
    for a in outcome.actions[-1:]:
        if a.get("outcome") == "fixed":
            console.print(f"[green]{a['tool']} fixed it[/] — {a.get('verify', '')}", highlight=False)


def _slash(runner: Runner, command: str) -> bool:
    """Handle a /command; False means quit."""
    name = command.split()[0].lower()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/help":
        console.print(CHAT_HELP, markup=False)
    elif name == "/incidents":
        from agent.cli.incidents_cmd import print_incidents

        print_incidents(runner.deps.audit, runner.deps.approvals, limit=10)
    elif name == "/approvals":
        pending = runner.pending_approvals()
        if not pending:
            console.print("no pending approvals")
        for r in pending:
            console.print(f"{r.id}  {r.incident_id}  {r.summary()}", highlight=False, markup=False)
    else:
        console.print(f"unknown command {name}; /help lists them")
    return True


def new_thread() -> str:
    return f"chat-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


@app.command()
def chat(
    thread: str | None = typer.Option(None, "--thread", help="Continue an earlier conversation (its id)."),
) -> None:
    """Talk to the agent: streamed answers, tool calls as they happen, approvals asked inline."""
    s = settings()
    runner = _runner(s)
    thread = thread or new_thread()
    printer = EventPrinter(console)
    reasoner = "LLM " + s.llm_model if runner.deps.reasoner.name == "llm" else "offline runbook planner"
    console.print(f"devops-agent chat · {reasoner} · thread {thread} · /help for commands", highlight=False)
    try:
        while True:
            try:
                text = console.input("[bold cyan]you>[/] ").strip()
            except EOFError:
                break
            except KeyboardInterrupt:
                console.print()
                continue
            if not text:
                continue
            if text.startswith("/"):
                if text.split()[0].lower() == "/new":
                    thread = new_thread()
                    console.print(f"new thread {thread}")
                    continue
                if not _slash(runner, text):
                    break
                continue
            try:
                _chat_turn(runner, thread, text, printer)
            except (KeyboardInterrupt, typer.Abort):  # click turns Ctrl-C at a prompt into Abort
                printer.end_stream()
                console.print("[yellow]interrupted[/] (the conversation goes on; /quit to leave)")
    finally:
        runner.close()
