"""Helpers shared by the command modules: settings, consoles, friendly failures."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from agent.settings import Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error the user can act on and exit; never a traceback for expected failures."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings(config: Path | None = None) -> Settings:
    try:
        return load_settings(config)
    except SettingsError as exc:
        fail(str(exc))


def whoami() -> str:
    """The approver identity recorded for CLI decisions."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))
