"""The `devops-agent` command line.

Each command group lives in its own module under ``agent/cli/`` and is registered here.
Groups that live outside ``agent/`` (``sandbox``, ``eval``) plug in through the ``devops_agent.cli``
entry-point group declared in pyproject.toml, so ``agent`` never imports them.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import typer

app = typer.Typer(
    name="devops-agent",
    help="An autonomous SRE agent for Kubernetes services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules under agent/cli/ that define commands on `app` (each owns its commands).
_COMMAND_MODULES = (
    "agent.cli.core_cmd",
    "agent.cli.config_cmd",
    "agent.cli.approvals_cmd",
    "agent.cli.audit_cmd",
    "agent.cli.incidents_cmd",
    "agent.cli.knowledge_cmd",
    "agent.cli.serve_cmd",
    "agent.cli.slack_cmd",
    "agent.cli.journal_cmd",
    "agent.cli.slo_cmd",
    "agent.cli.recommend_cmd",
    "agent.cli.proactive_cmd",
    "agent.cli.mcp_cmd",
)


def _register() -> None:
    for mod in _COMMAND_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # a real import error inside the module: surface it
                raise
    for ep in entry_points(group="devops_agent.cli"):
        try:
            sub = ep.load()
        except ModuleNotFoundError:
            continue  # optional group not shipped in this install
        app.add_typer(sub, name=ep.name)


def main() -> None:
    _register()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
