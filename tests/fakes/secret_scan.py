"""A secret scan over everything a run leaves behind: files of the data dir (audit log, checkpoints,
approvals, raw tool output, postmortems, memory records, error logs), model transcripts, log lines
and Slack messages.

The secrets are collected from the world, not guessed: every value of every Kubernetes Secret, every
container env value whose name looks like a token or password, and every setting or environment
variable named so. A value shorter than :data:`MIN_LEN` is skipped (it would match by chance).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.settings import SECRET_FIELDS, Settings
from sandbox.kube.store import Store

MIN_LEN = 6
SECRET_NAME = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key)", re.I)


@dataclass(frozen=True)
class Finding:
    secret: str  # where the secret came from (never its value)
    where: str

    def __str__(self) -> str:
        return f"{self.secret} found in {self.where}"


PUBLIC_RESOURCES = ("configmaps", "deployments", "services", "pods", "events")


def store_secrets(store: Store) -> dict[str, str]:
    """name -> value of every Secret value and of every secret-looking container env value.

    A Secret value the cluster also shows in plain objects (a user name like ``features`` that is
    also the database name in a ConfigMap) is public already and skipped: finding it proves nothing.
    """
    public = "\n".join(json.dumps(o) for r in PUBLIC_RESOURCES for o in store.list(r))
    out: dict[str, str] = {}
    for sec in store.list("secrets"):
        meta = sec["metadata"]
        for key, value in (sec.get("data") or {}).items():
            try:
                decoded = base64.b64decode(value).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            if decoded not in public:
                out[f"secret {meta.get('namespace')}/{meta['name']}[{key}]"] = decoded
        for key, value in (sec.get("stringData") or {}).items():
            out[f"secret {meta.get('namespace')}/{meta['name']}[{key}]"] = str(value)
    for dep in store.list("deployments"):
        for c in dep["spec"]["template"]["spec"].get("containers", []):
            for env in c.get("env") or []:
                if SECRET_NAME.search(str(env.get("name"))) and isinstance(env.get("value"), str):
                    out[f"env {dep['metadata']['name']}.{env['name']}"] = env["value"]
    return {k: v for k, v in out.items() if len(v) >= MIN_LEN}


def settings_secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secret settings and every environment variable named like a token or password."""
    out: dict[str, str] = {}
    for name in SECRET_FIELDS:
        value = getattr(settings, name, None)
        if value is not None:
            out[f"setting {name}"] = value.get_secret_value()
    for name, value in (environ or {}).items():
        if SECRET_NAME.search(name):
            out[f"env var {name}"] = value
    return {k: v for k, v in out.items() if len(v) >= MIN_LEN}


def _forms(value: str) -> list[bytes]:
    """The value as written, JSON-escaped, and base64-encoded (a leak in any of them counts)."""
    raw = value.encode()
    return list(dict.fromkeys([raw, value.encode("unicode_escape"), base64.b64encode(raw)]))


def scan_bytes(data: bytes, where: str, secrets: Mapping[str, str]) -> list[Finding]:
    return [Finding(name, where) for name, value in secrets.items() if any(f in data for f in _forms(value))]


def scan_paths(paths: Iterable[Path], secrets: Mapping[str, str]) -> list[Finding]:
    """Every file under the paths, read as bytes (SQLite files included)."""
    found: list[Finding] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += scan_bytes(data, str(path), secrets)
    return found


def scan_texts(texts: Mapping[str, Any], secrets: Mapping[str, str]) -> list[Finding]:
    """Named texts (a transcript, captured log lines, Slack messages)."""
    found: list[Finding] = []
    for where, text in texts.items():
        found += scan_bytes(str(text).encode(), where, secrets)
    return found
