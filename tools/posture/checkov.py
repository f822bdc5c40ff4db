"""Our checks side by side with Checkov's Kubernetes policies, on the same manifests.

Checkov runs as a binary (it lives in its own venv, ``.venv-checkov``, made by scripts/setup.sh),
offline (``--skip-download``). For each check, its bad case (``tests/fixtures/posture/bad/<id>.yaml``:
the good application with that one defect) and the good case are compared on the Checkov ids the
check maps to:

- ``agree``: both flag the bad case, neither the good one;
- ``checkov misses``: we flag it, none of the mapped Checkov ids does;
- ``checkov also flags good``: a mapped id fires on the good case too (so it says nothing about the defect);
- ``no equivalent``: Checkov has no policy for it.

``python -m tools.posture.checkov`` prints that table; ``python -m tools.posture.checkov DIR`` prints,
per mapped check, how many objects under DIR both, only we, or only Checkov flag (docs/posture.md
shows both, measured on the fixtures and on the sandbox's seeded platform).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tools.posture.model import Check
from tools.posture.registry import all_checks
from tools.posture.run import run_checks
from tools.posture.sources import load_manifests

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "posture"


def checkov_binary() -> str | None:
    """``.venv-checkov/bin/checkov`` of this checkout (scripts/setup.sh makes it), else PATH's."""
    own = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"
    return str(own) if own.exists() else shutil.which("checkov")


@dataclass(frozen=True)
class Failure:
    """One Checkov policy failing on one resource (``Kind.namespace.name``) of one file."""

    file: str
    resource: str
    check_id: str


def run_checkov(binary: str, root: Path, timeout_s: float = 300) -> list[Failure]:
    """Every failure Checkov reports for the manifests under ``root`` (files relative to it)."""
    proc = subprocess.run(
        [binary, "-d", str(root), "--framework", "kubernetes", "-o", "json", "--quiet", "--compact",
         "--skip-download"],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    reports = json.loads(proc.stdout)
    return [
        Failure(str(f["file_path"]).lstrip("/"), str(f["resource"]), str(f["check_id"]))
        for report in (reports if isinstance(reports, list) else [reports])
        for f in (report.get("results") or {}).get("failed_checks") or []
    ]


def by_file(failures: list[Failure]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in failures:
        out[f.file].add(f.check_id)
    return dict(out)


@dataclass(frozen=True)
class Row:
    check: Check
    ours: bool  # our check fires on its bad case
    checkov_bad: frozenset[str]  # every Checkov id failing on the bad case
    checkov_good: frozenset[str]  # Checkov ids failing on the good case

    @property
    def verdict(self) -> str:
        mapped = set(self.check.checkov)
        if not mapped:
            return "no equivalent"
        if mapped & self.checkov_good:
            return "checkov also flags good"
        if mapped & self.checkov_bad and self.ours:
            return "agree"
        if self.ours:
            return "checkov misses"
        return "we miss"

    @property
    def extra(self) -> list[str]:
        """Checkov ids that fire on the bad case only, other than the mapped ones."""
        return sorted(self.checkov_bad - self.checkov_good - set(self.check.checkov))


def compare(root: Path, failures: list[Failure]) -> list[Row]:
    """Each check on its bad case and the good case, against the Checkov ids it maps to."""
    failed = by_file(failures)
    good = frozenset(failed.get("good/app.yaml", set()))
    rows = []
    for c in all_checks():
        bad = root / "bad" / f"{c.id}.yaml"
        ours = any(f.check.id == c.id for f in run_checks(load_manifests(bad)).findings)
        rows.append(Row(c, ours, frozenset(failed.get(f"bad/{c.id}.yaml", set())), good))
    return rows


@dataclass(frozen=True)
class Overlap:
    """On one set of manifests: the objects one check flags, ours against its Checkov ids."""

    check: Check
    both: int
    only_ours: int
    only_checkov: int


def overlap(root: Path, failures: list[Failure]) -> list[Overlap]:
    """Per mapped check, objects flagged by both, by us only and by Checkov only. Objects are
    matched by namespace and name: Checkov names the pod template (``Pod.ns.name.labels``) where
    we name the Service of a missing NetworkPolicy."""
    report = run_checks(load_manifests(root))
    out = []
    for c in all_checks():
        if not c.checkov:
            continue
        ours = {_resource_key(f.obj) for f in report.findings if f.check.id == c.id}
        theirs = {".".join(f.resource.split(".")[1:3]) for f in failures if f.check_id in c.checkov}
        out.append(Overlap(c, len(ours & theirs), len(ours - theirs), len(theirs - ours)))
    return out


def _resource_key(obj: dict[str, object]) -> str:
    """``namespace.name`` (``default`` when unset), as Checkov's resource names carry them."""
    meta = obj.get("metadata") or {}
    assert isinstance(meta, dict)
    return f"{meta.get('namespace') or 'default'}.{meta.get('name')}"


def overlap_table(rows: list[Overlap]) -> str:
    lines = ["| check | Checkov ids | both | only ours | only Checkov |", "|---|---|---|---|---|"]
    for r in rows:
        if r.both or r.only_ours or r.only_checkov:
            lines.append(
                f"| `{r.check.id}` | {', '.join(r.check.checkov)} | {r.both} | {r.only_ours} | {r.only_checkov} |"
            )
    return "\n".join(lines)


def table(rows: list[Row]) -> str:
    lines = [
        "| check | Checkov ids | ours on bad | Checkov on bad (mapped) | verdict | other Checkov ids on bad only |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        mapped = sorted(set(r.check.checkov) & r.checkov_bad)
        lines.append(
            f"| `{r.check.id}` | {', '.join(r.check.checkov) or '-'} | {'yes' if r.ours else 'no'} | "
            f"{', '.join(mapped) or '-'} | {r.verdict} | {', '.join(r.extra) or '-'} |"
        )
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r.verdict] += 1
    good = sorted(rows[0].checkov_good) if rows else []
    lines += [
        "",
        "Totals: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f" (of {len(rows)} checks).",
        f"Checkov on the good case: {', '.join(good) or 'nothing'}.",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``fixtures`` (default): the per-check table; ``DIR``: the overlap on the manifests under DIR."""
    binary = checkov_binary()
    if binary is None:
        print("checkov not found: run scripts/setup.sh (it makes .venv-checkov)", file=sys.stderr)
        return 2
    if argv and argv[0] != "fixtures":
        root = Path(argv[0])
        print(overlap_table(overlap(root, run_checkov(binary, root))))
    else:
        print(table(compare(FIXTURES, run_checkov(binary, FIXTURES))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
