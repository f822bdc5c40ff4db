"""The `devops-agent` command line.

Each command group lives in its own module under ``agent/cli/`` and registers itself on ``app`` when
imported. ``_COMMANDS`` names every command, the modules that define it and the help line
`devops-agent --help` shows, so the listing imports none of them and a command imports only its own
(``agent.cli.lazy``; a unit test keeps the table true to the modules).
Groups that live outside ``agent/`` (``sandbox``, ``eval``) plug in through the ``devops_agent.cli``
entry-point group declared in pyproject.toml, so ``agent`` never imports them; they load lazily too.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Mapping

import typer
import typer.main
from typer.core import TyperGroup

from agent.cli.lazy import LazyCommand, LazyGroup, help_line, static_typer_help

# name: (modules under agent/cli/ that define it, in import order; its help line), as --help lists them.
_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "investigate": (("core_cmd",), "Investigate a question or an alert once and print the report."),
    "chat": (
        ("core_cmd",),
        "Talk to the agent: streamed answers, tool calls as they happen, approvals asked inline.",
    ),
    "doctor": (
        ("doctor_cmd",),
        "Check every backend (LLM, Kubernetes, Prometheus, Loki, Alertmanager, memory, database, policy).",
    ),
    "serve": (
        ("serve_cmd",),
        "Run the webhook receiver, the investigation workers and the HTTP API (and Slack when configured).",
    ),
    "slack": (
        ("slack_cmd",),
        "Run the Slack bot alone: Socket Mode with an app token, else HTTP mode on /slack/events.",
    ),
    "watch": (
        ("journal_cmd",),
        "Run the change journal in the foreground: record every change of the watched kinds (Ctrl-C stops).",
    ),
    "changes": (
        ("journal_cmd",),
        "What changed, field by field, with who and when (the journal, else what the cluster keeps).",
    ),
    "drift": (
        ("drift_cmd",),
        "Drift of the cluster from the desired state (DEVOPS_AGENT_DESIRED_STATE), field by field.",
    ),
    "recommend": (
        ("recommend_cmd",),
        "Right-size requests and limits from usage history, with cost and savings (OpenCost's prices).",
    ),
    "anomalies": (
        ("proactive_cmd",),
        "Golden signals now against their hour-of-week baseline; each finding names its baseline.",
    ),
    "forecast": (
        ("proactive_cmd",),
        "Time to saturation of memory, CPU, disk and HPA replicas, and the pre-emptive change for each crossing.",
    ),
    "posture": (
        ("posture_cmd",),
        "Security posture (pod hardening, resources, images, host access, RBAC, secrets) with a score.",
    ),
    "mcp": (
        ("mcp_cmd",),
        "Serve the read tools and the guarded actions over the Model Context Protocol.",
    ),
    "config": (("config_cmd",), "Show the effective configuration."),
    "approvals": (("approvals_cmd",), "List and decide pending approval requests."),
    "audit": (("audit_cmd",), "Read and verify the tamper-evident audit log."),
    "report": (
        ("report_cmd",),
        "Documents from the record: a change log, a compliance report, draft runbooks.",
    ),
    "incidents": (("incidents_cmd", "knowledge_cmd"), "Incidents the agent handled or is handling."),
    "knowledge": (("knowledge_cmd",), "Incident memory, runbooks and what the agent has learned."),
    "slo": (("slo_cmd",), "SLOs as code: generate Prometheus rules, check specs, read error budgets."),
}


def _import(modules: tuple[str, ...]) -> None:
    for mod in modules:
        importlib.import_module(f"agent.cli.{mod}")


def _add_entry_point(name: str) -> None:
    from importlib.metadata import entry_points

    if any(group.name == name for group in app.registered_groups):
        return
    ep = next(iter(entry_points(group="devops_agent.cli", name=name)))  # the one _plugin_table listed
    app.add_typer(ep.load(), name=name)


@functools.cache
def _module_table() -> Mapping[str, LazyCommand]:
    return {
        name: LazyCommand(name, text, functools.partial(_import, modules))
        for name, (modules, text) in _COMMANDS.items()
    }


@functools.cache
def _plugin_table() -> Mapping[str, LazyCommand]:
    """The entry-point groups, their help read from source (scanning entry points costs ~50 ms)."""
    from importlib.metadata import entry_points

    table = {}
    for ep in entry_points(group="devops_agent.cli"):
        text = static_typer_help(ep.module, ep.attr)
        if text is None:  # not a literal we can read: load it now (slower, still correct)
            try:
                text = help_line(typer.main.get_group(ep.load()).help)
            except ModuleNotFoundError:
                continue  # optional group not shipped in this install
        table[ep.name] = LazyCommand(ep.name, text, functools.partial(_add_entry_point, ep.name))
    return table


def _lazy_table() -> Mapping[str, LazyCommand]:
    """Every command `devops-agent --help` lists, in its order."""
    return {**_module_table(), **_plugin_table()}


class _RootGroup(LazyGroup):
    def lazy_commands(self) -> Mapping[str, LazyCommand]:
        return _module_table()

    def plugin_commands(self) -> Mapping[str, LazyCommand]:
        return _plugin_table()

    def loaded_group(self) -> TyperGroup:
        return typer.main.get_group(app)


app = typer.Typer(
    name="devops-agent",
    cls=_RootGroup,
    help="An autonomous SRE agent for Kubernetes services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Makes `app` a group even before any command module has registered on it."""


def _register() -> None:
    """Load every command now (the docs generator and tests walk the whole tree)."""
    for entry in _lazy_table().values():
        entry.load()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
