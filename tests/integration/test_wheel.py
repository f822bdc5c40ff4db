"""Installed from a wheel, the package still finds its prompts, runbooks, scenarios and alert rules,
and the sandbox and eval command groups plug into the CLI."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)

PROBE = """
import agent, knowledge
from pathlib import Path
import agent.prompts as p
names = p.names()
assert "system" in names, names
from knowledge.runbooks import load_runbooks
books = load_runbooks()
assert len(books) >= 12, len(books)
from evals.scenario import load_scenarios
assert len(load_scenarios()) >= 15
from sandbox.prom import __file__ as prom
assert len(list((Path(prom).parent / "rules").glob("*.yml"))) >= 3
from importlib.metadata import entry_points
assert {e.name for e in entry_points(group="devops_agent.cli")} == {"sandbox", "eval"}
print("OK", agent.__file__)
"""


def test_installed_wheel_finds_its_data(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(ROOT),
            "-w",
            str(wheels),
        ],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        timeout=240,
    )
    target = tmp_path / "site"
    wheel = glob.glob(str(wheels / "devops_agent-*.whl"))[0]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
        capture_output=True,
        timeout=120,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    r = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(target) in r.stdout  # imported from the installed wheel, not the checkout
