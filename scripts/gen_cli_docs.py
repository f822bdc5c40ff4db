"""Write docs/cli.md from the CLI's own --help, so the reference cannot go stale.

python scripts/gen_cli_docs.py          # rewrite docs/cli.md
python scripts/gen_cli_docs.py --check  # exit 1 when docs/cli.md is out of date (the test does this)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.cli import _register, app  # noqa: E402

OUT = ROOT / "docs" / "cli.md"
ENV = {"TERMINAL_WIDTH": "100", "NO_COLOR": "1", "COLUMNS": "100", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}


def _walk(cmd: Any, path: list[str]) -> list[list[str]]:
    out = [path]
    if hasattr(cmd, "commands"):
        for name in sorted(cmd.commands):
            out += _walk(cmd.commands[name], [*path, name])
    return out


def render() -> str:
    _register()
    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = [
        "# CLI reference",
        "",
        "Generated from `--help` by `scripts/gen_cli_docs.py`; a test fails when it is stale.",
        "",
    ]
    for path in _walk(root, []):
        result = runner.invoke(app, [*path, "--help"], env=ENV, prog_name="devops-agent")
        title = " ".join(["devops-agent", *path])
        parts += [f"## `{title}`", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print("docs/cli.md is out of date: run `python scripts/gen_cli_docs.py`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
