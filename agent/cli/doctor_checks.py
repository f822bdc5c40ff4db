"""``devops-agent doctor``: one check per backend, each saying what is wrong and how to fix it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from agent.settings import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True
    fix: str = ""


def _get(url: str, timeout: float, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(url, timeout=timeout, headers=headers or {}, follow_redirects=True)


def _http_check(name: str, url: str, path: str, timeout: float, env: str, *, required: bool) -> Check:
    target = url.rstrip("/") + path
    try:
        resp = _get(target, timeout)
    except httpx.HTTPError as exc:
        return Check(
            name,
            False,
            f"cannot reach {target}: {type(exc).__name__}: {exc}",
            required,
            f"start it, or point {env} at it (now {url})",
        )
    if resp.status_code >= 400:
        return Check(
            name,
            False,
            f"{target} answered HTTP {resp.status_code}: {resp.text[:120]}",
            required,
            f"check that {env} ({url}) is the right service and that it is ready",
        )
    return Check(name, True, f"{url} ready", required)


def check_llm(s: Settings) -> Check:
    if not s.use_llm:
        return Check("LLM", True, "not configured → offline runbook planner", required=False)
    base = s.effective_llm_base_url
    if not base:
        return Check(
            "LLM",
            False,
            "reasoner=llm but no endpoint",
            True,
            "set DEVOPS_AGENT_LLM_BASE_URL (or OPENAI_BASE_URL)",
        )
    key = s.effective_llm_api_key
    try:
        resp = _get(
            base.rstrip("/") + "/models",
            min(s.llm_timeout_s, 10.0),
            {"Authorization": f"Bearer {key}"} if key else None,
        )
    except httpx.HTTPError as exc:
        return Check(
            "LLM",
            False,
            f"cannot reach {base}: {exc}",
            True,
            "check DEVOPS_AGENT_LLM_BASE_URL and that the server runs",
        )
    if resp.status_code in (401, 403):
        return Check(
            "LLM",
            False,
            f"{base} refused the API key (HTTP {resp.status_code})",
            True,
            "set DEVOPS_AGENT_LLM_API_KEY",
        )
    if resp.status_code >= 400:
        return Check(
            "LLM",
            False,
            f"{base}/models answered HTTP {resp.status_code}",
            True,
            "is this an OpenAI-compatible /v1 base URL?",
        )
    try:
        models = [m.get("id") for m in resp.json().get("data", [])]
    except ValueError:
        models = []
    if models and s.llm_model not in models:
        return Check(
            "LLM",
            False,
            f"{base} does not list model {s.llm_model!r} (has: {', '.join(map(str, models[:8]))})",
            True,
            "set DEVOPS_AGENT_LLM_MODEL to one of them",
        )
    return Check("LLM", True, f"{base} model {s.llm_model}")


def check_kubernetes(s: Settings) -> Check:
    from agent.deps import build_tool_deps
    from tools.kubernetes.client import Kube

    try:
        kube = Kube(build_tool_deps(s), s.kube_context)
        version = kube.request("GET", "/version", what="the API server version")
    except Exception as exc:
        return Check(
            "Kubernetes",
            False,
            str(exc),
            True,
            "set DEVOPS_AGENT_KUBECONFIG / DEVOPS_AGENT_KUBE_CONTEXT (or KUBECONFIG), e.g. `eval $(devops-agent sandbox env)`",
        )
    git = version.get("gitVersion", "?") if isinstance(version, dict) else "?"
    return Check("Kubernetes", True, f"{kube.host} (context {s.kube_context or 'current'}, {git})")


def check_memory(s: Settings) -> Check:
    try:
        s.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=s.data_dir):
            pass
    except OSError as exc:
        return Check(
            "memory",
            False,
            f"data dir {s.data_dir} is not writable: {exc}",
            True,
            "set DEVOPS_AGENT_DATA_DIR to a writable directory",
        )
    from agent.deps import MemorySeam

    seam = MemorySeam(s)
    memory = seam.memory
    if memory is None:
        return Check(
            "memory",
            False,
            seam.note or "memory did not open",
            True,
            "see the message; `devops-agent knowledge stats` shows more",
        )
    return Check("memory", True, f"{memory.location} ({memory.count()} incidents)")


def check_database(s: Settings) -> Check:
    """Where the queue, approvals, audit log and checkpoints live, reachable, at which schema versions."""
    from agent.storage import database
    from agent.storage.db import DatabaseError, redact_url
    from agent.storage.migrations import schema_version

    url = s.database_url_value
    if not url:
        return Check(
            "database", True, f"SQLite files in {s.data_dir} (set DEVOPS_AGENT_DATABASE_URL to share)"
        )
    try:
        db = database(s, "")
        with db.tx() as tx:
            server = str(tx.one("SHOW server_version")[0])
        found = {n: schema_version(db, n) for n in ("queue", "approvals", "audit")}
        versions = ", ".join(f"{n} v{v}" if v else f"{n} not created yet" for n, v in found.items())
    except DatabaseError as exc:
        return Check("database", False, str(exc), True, "start Postgres or fix DEVOPS_AGENT_DATABASE_URL")
    except Exception as exc:
        return Check(
            "database",
            False,
            f"Postgres at {redact_url(url)} answered with an error: {type(exc).__name__}: {exc}",
            True,
            "check the user's rights on the database (it must create tables)",
        )
    return Check("database", True, f"Postgres {server} at {redact_url(url)} (schema: {versions})")


def check_policy(s: Settings) -> Check:
    from agent.policy import PolicyError, load_policy

    try:
        policy = load_policy(s.policy_file)
    except PolicyError as exc:
        return Check("policy", False, str(exc), True, "fix the file or unset DEVOPS_AGENT_POLICY_FILE")
    where = str(s.policy_file) if s.policy_file else "built-in default"
    return Check("policy", True, f"{where} (default autonomy {policy.default_autonomy})")


def all_checks(s: Settings) -> list[Callable[[], Check]]:
    t = s.http_timeout_s
    return [
        lambda: check_llm(s),
        lambda: check_kubernetes(s),
        lambda: _http_check(
            "Prometheus", s.prometheus_url, "/-/ready", t, "DEVOPS_AGENT_PROMETHEUS_URL", required=True
        ),
        lambda: _http_check("Loki", s.loki_url, "/ready", t, "DEVOPS_AGENT_LOKI_URL", required=False),
        lambda: _http_check(
            "Alertmanager", s.alertmanager_url, "/-/ready", t, "DEVOPS_AGENT_ALERTMANAGER_URL", required=False
        ),
        lambda: check_memory(s),
        lambda: check_database(s),
        lambda: check_policy(s),
    ]
