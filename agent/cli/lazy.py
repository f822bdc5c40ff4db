"""A command group that lists its commands from a table and imports a command's module only to run it.

`devops-agent --help` needs each command's name and help line, not its code: the table holds both,
so the listing imports nothing but typer. Running a command (or asking for its own ``--help``) loads
its module, which registers the real command on the Typer app as before. A unit test holds the table
to the real commands so the two cannot drift apart.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer._click import Command, Context, HelpFormatter  # typer vendors click: these are its types
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """A command known by name and help line; ``load`` registers the real one on the Typer app."""

    name: str
    help: str
    load: Callable[[], None]


class _Placeholder(TyperCommand):
    """Stands in for a command not yet loaded: enough for a `--help` listing, never invoked."""


def help_line(text: str | None) -> str:
    """The part of a command's help a group's listing shows: its first paragraph."""
    return inspect.cleandoc(text or "").split("\n\n")[0].strip()


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands come from tables until they are needed.

    :meth:`lazy_commands` is the cheap table (known in code); :meth:`plugin_commands` may cost a scan
    (entry points) and is read only to list every command or to find a name the first does not hold.
    Subclasses also say how to build the group once modules are loaded (:meth:`loaded_group`).
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        real = dict(self.commands)  # what the loaded modules registered
        ordered: dict[str, Command] = {
            name: real.pop(name) if name in real else _Placeholder(name=name, help=entry.help)
            for name, entry in self.lazy_commands().items()
        }
        self.commands = {**ordered, **real}  # the table's order, as --help lists it
        self._listing = False
        self._plugins_listed = False

    def lazy_commands(self) -> Mapping[str, LazyCommand]:
        raise NotImplementedError

    def plugin_commands(self) -> Mapping[str, LazyCommand]:
        return {}

    def loaded_group(self) -> TyperGroup:
        """The group built from what the loaded modules have registered so far."""
        raise NotImplementedError

    def _list_plugins(self) -> None:
        if not self._plugins_listed:
            self._plugins_listed = True
            for name, entry in self.plugin_commands().items():
                self.commands.setdefault(name, _Placeholder(name=name, help=entry.help))

    def list_commands(self, ctx: Context) -> list[str]:
        self._list_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands:
            self._list_plugins()  # also lets a mistyped name be told the closest one
        cmd = self.commands.get(cmd_name)
        if not isinstance(cmd, _Placeholder) or self._listing:
            return cmd
        entry = self.lazy_commands().get(cmd_name) or self.plugin_commands()[cmd_name]
        entry.load()
        real = self.loaded_group().commands.get(cmd_name)
        if real is None or isinstance(real, _Placeholder):
            raise RuntimeError(f"loading {cmd_name!r} did not register a command of that name")
        self.commands[cmd_name] = real
        return real

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True  # the listing shows placeholders as they are: no module is imported
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def static_typer_help(module: str, attr: str) -> str | None:
    """The ``help=`` literal of ``attr = typer.Typer(help=...)`` in ``module``, read without importing it.

    None when the module is absent or the help is not a literal (the caller then loads the module).
    """
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    for node in ast.parse(Path(spec.origin).read_text()).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
            continue
        if not any(isinstance(t, ast.Name) and t.id == attr for t in node.targets):
            continue
        for kw in node.value.keywords:
            if kw.arg == "help" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                return help_line(kw.value.value)
    return None
