"""Secrets in the pod spec: literal credentials in env, and Secrets exposed as environment variables.

A finding names the variable, never its value."""

from __future__ import annotations

from tools.posture.model import Obj
from tools.posture.registry import check
from tools.posture.workloads import WORKLOADS, per_container
from tools.redact import is_secret_name


def _literal(spec: Obj, c: Obj) -> str | None:
    names = [
        str(e.get("name"))
        for e in c.get("env") or []
        if is_secret_name(str(e.get("name") or "")) and e.get("value") not in (None, "")
    ]
    if not names:
        return None
    return f"env {', '.join(names)} {'has' if len(names) == 1 else 'have'} a literal value (not shown)"


check(
    "secrets-literal-env",
    severity="critical",
    title="Credentials must not be literal env values",
    why="A literal value is in the manifest, in git, in the object every reader of the Deployment sees, "
    "and in every `kubectl get -o yaml`.",
    fix="Move the value to a Secret and reference it with env[].valueFrom.secretKeyRef (or a mounted file); "
    "rotate the credential, it has been exposed.",
    kinds=WORKLOADS,
)(per_container(_literal))


def _secret_env(spec: Obj, c: Obj) -> str | None:
    names = [str(e.get("name")) for e in c.get("env") or [] if (e.get("valueFrom") or {}).get("secretKeyRef")]
    names += [
        f"envFrom {(e.get('secretRef') or {}).get('name')}"
        for e in c.get("envFrom") or []
        if e.get("secretRef")
    ]
    return f"Secret values in environment variables: {', '.join(names)}" if names else None


check(
    "secrets-as-env",
    severity="low",
    title="Secrets are better mounted as files than passed as env",
    why="Environment variables end up in crash dumps, child processes and debug output; a mounted file "
    "is read only when needed and follows a rotation.",
    fix="Mount the Secret as a volume and read the file; keep env for non-secret settings.",
    kinds=WORKLOADS,
    checkov=("CKV_K8S_35",),
)(per_container(_secret_env))
