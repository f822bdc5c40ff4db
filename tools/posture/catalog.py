"""The table of every check that docs/posture.md shows (a unit test keeps the two equal)."""

from __future__ import annotations

from tools.posture.registry import all_checks


def markdown() -> str:
    lines = [
        "| id | family | severity | title | fix | Checkov | automated fix |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in all_checks():
        lines.append(
            f"| `{c.id}` | {c.family} | {c.severity} | {c.title} | {c.fix} | {', '.join(c.checkov) or '-'} | "
            f"{'`' + c.fix_action + '`' if c.fix_action else '-'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
