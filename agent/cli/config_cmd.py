"""`devops-agent config show`: the effective settings, secrets masked."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from agent.cli import app
from agent.cli.common import console, print_json, settings
from agent.settings import Settings

config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def show(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = typer.Option(
        None, "--config", help="YAML config file to read (else DEVOPS_AGENT_CONFIG_FILE)."
    ),
) -> None:
    """Print every setting with its effective value (secrets masked) and what it means."""
    s = settings(config)
    values = s.masked()
    if as_json:
        print_json(values)
        return
    table = Table("setting", "value", "meaning", show_lines=False)
    for name, value in values.items():
        field = Settings.model_fields.get(name)
        env = f"DEVOPS_AGENT_{name.upper()}" if field is not None else name
        table.add_row(
            env, "" if value is None else str(value), (field.description or "") if field else "derived"
        )
    console.print(table)
