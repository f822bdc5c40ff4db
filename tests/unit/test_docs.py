"""Docs that cannot go stale: the CLI reference is generated from --help, and the README's promises hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    r = subprocess.run(
        [sys.executable, "scripts/gen_cli_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    block = readme[readme.index("```sh") + 1 : readme.index("```", readme.index("```sh") + 1)]
    commands = [line.split("#")[0].strip() for line in block]
    assert commands == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci.splitlines()


def test_help_lists_every_command() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"TERMINAL_WIDTH": "200", "PATH": "/usr/bin:/bin"},
    )
    for cmd in (
        "investigate",
        "chat",
        "approvals",
        "audit",
        "incidents",
        "config",
        "doctor",
        "serve",
        "slack",
        "mcp",
        "knowledge",
        "sandbox",
        "eval",
    ):
        assert f" {cmd} " in r.stdout, cmd
