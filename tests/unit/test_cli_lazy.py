"""The CLI starts fast because commands load lazily: light commands import no heavy library, and the
name/help table that `--help` lists cannot drift from the commands the modules really define."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer

from agent.cli import _COMMANDS, _lazy_table, _register, app
from agent.cli.lazy import help_line

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("chromadb", "langgraph", "sklearn", "scipy", "openai", "numpy", "kubernetes", "langchain_core")
ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}

PROBE = """
import json, sys
import agent.cli
for argv in {argvs!r}:
    try:
        agent.cli.app(argv, prog_name="devops-agent")
    except SystemExit:
        pass
print("HEAVY=" + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "DEVOPS_AGENT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_help_and_approvals_list_import_no_heavy_library(tmp_path: Path) -> None:
    argvs = [["--help"], ["approvals", "list", "--help"], ["approvals", "list"], ["incidents", "--help"]]
    r = _run(["-c", PROBE.format(argvs=argvs, heavy=HEAVY)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "no pending approvals" in r.stdout  # the command really ran
    heavy = json.loads(r.stdout.rsplit("HEAVY=", 1)[1])
    assert heavy == [], f"a light command imported {heavy}"


def test_lazy_help_is_the_same_as_with_every_command_loaded(tmp_path: Path) -> None:
    run = "c.app(prog_name='devops-agent')"
    lazy = _run(["-c", f"import agent.cli as c; {run}", "--help"], tmp_path)
    eager = _run(["-c", f"import agent.cli as c; c._register(); {run}", "--help"], tmp_path)
    assert lazy.returncode == eager.returncode == 0, lazy.stderr + eager.stderr
    assert lazy.stdout == eager.stdout
    for name in _lazy_table():
        assert f" {name} " in lazy.stdout, name


def test_a_mistyped_command_is_still_told_the_closest_name(tmp_path: Path) -> None:
    r = _run(["-m", "agent.cli", "aprovals"], tmp_path)
    assert r.returncode == 2
    assert "Did you mean 'approvals'?" in r.stderr


def test_every_lazy_command_is_defined_by_its_modules_with_the_registered_help_line() -> None:
    table = _lazy_table()
    assert {"sandbox", "eval"} <= set(table)  # the entry-point groups are in the table too
    for name, entry in table.items():
        entry.load()
        real = typer.main.get_group(app).commands.get(name)
        assert real is not None, f"loading {name!r} did not register it"
        assert help_line(real.short_help or real.help) == entry.help, name


def test_no_module_registers_a_command_the_table_misses() -> None:
    _register()
    assert list(typer.main.get_group(app).commands) == list(_lazy_table())
    modules = {m for mods, _ in _COMMANDS.values() for m in mods}
    on_disk = {p.stem for p in (ROOT / "agent" / "cli").glob("*_cmd.py")}
    assert modules == on_disk  # a new command module is listed, so it can be reached at all
