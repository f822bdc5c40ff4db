"""The eval's world and agent: a sandbox whose Alertmanager posts to an in-process ``serve``.

``open_env`` starts (or restarts) the sandbox with its webhook pointed at a fresh agent server;
``start_agent`` alone is what a test uses with a sandbox it already has.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from kubernetes import config as kube_config

from agent.audit import AuditLog
from agent.runner import Runner
from agent.server.app import create_app
from agent.server.service import Service
from agent.settings import Settings
from sandbox import lifecycle
from sandbox.control import ControlClient

Progress = Callable[[str], None]

EVAL_POLICY = """\
# Written by the eval harness. Changes in market-predictor wait for the scenario's scripted approver.
default_autonomy: approve
clusters:
  - context: "*"
    namespaces:
      - {match: market-predictor, autonomy: approve}
      - {match: "", autonomy: approve}      # cluster-scoped objects (nodes: cordon) also wait for the approver
      - {match: "*", autonomy: observe}
guardrails:
  cooldown_s: 20              # scenarios repeat the same fix on the same target minutes apart
  max_actions_per_hour: 200
"""


@dataclass
class AgentServer:
    """``serve`` in this process: the Service (queue, workers, runner) behind its HTTP app."""

    settings: Settings
    runner: Runner
    service: Service
    server: uvicorn.Server
    thread: threading.Thread
    url: str
    journal: Any = None
    """The change journal's watcher, as ``serve`` runs it (None when disabled)."""

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook/alertmanager"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.service.stop()
        if self.journal is not None:
            self.journal.stop()
        self.runner.close()


def agent_settings(
    state: lifecycle.SandboxState, data_dir: Path, overrides: dict[str, Any] | None = None
) -> Settings:
    """Settings that point the agent at the sandbox, with the eval policy written into ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    policy = data_dir / "policy.yaml"
    policy.write_text(EVAL_POLICY)
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "kubeconfig": Path(state.kubeconfig),
        "prometheus_url": state.prometheus_url,
        "loki_url": state.loki_url,
        "alertmanager_url": state.alertmanager_url,
        "default_namespace": "market-predictor",
        "policy_file": policy,
        "max_concurrent_investigations": 2,
        **(overrides or {}),
    }
    return Settings(**values)


def start_agent(settings: Settings, port: int = 0) -> AgentServer:
    """Start the Service and its HTTP app on 127.0.0.1 (``port`` 0: a free one)."""
    port = port or lifecycle.free_port()
    runner = Runner(settings)
    journal = None
    if settings.journal_enabled:  # as `serve` does: the journal records every change from the start
        from agent.cli.journal_cmd import start_watcher

        journal = start_watcher(settings, runner.deps.tool_deps)
    service = Service(settings, runner)
    service.start()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="eval-agent-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            service.stop()
            runner.close()
            raise RuntimeError(
                f"the agent's webhook server did not start on 127.0.0.1:{port} within 30 s "
                "(is the port taken? see the uvicorn log above)"
            )
        time.sleep(0.05)
    return AgentServer(settings, runner, service, server, thread, f"http://127.0.0.1:{port}", journal)


@dataclass
class EvalEnv:
    """The sandbox, the agent serving its alerts, and the handles the harness needs."""

    agent: AgentServer
    sandbox: lifecycle.SandboxState
    api: Any
    control: ControlClient
    audit: AuditLog
    progress: Progress = print

    @property
    def settings(self) -> Settings:
        return self.agent.settings

    @property
    def service(self) -> Service:
        return self.agent.service

    @property
    def runner(self) -> Runner:
        return self.agent.runner

    def close(self) -> None:
        self.agent.close()


def open_env(
    out_dir: Path,
    sandbox_dir: Path,
    *,
    overrides: dict[str, Any] | None = None,
    progress: Progress = print,
) -> EvalEnv:
    """Start (or restart) the sandbox with its webhook pointed at an in-process agent server."""
    port = lifecycle.free_port()
    webhook = f"http://127.0.0.1:{port}/webhook/alertmanager"
    existing = lifecycle.SandboxState.load(sandbox_dir)
    if existing is not None and existing.alert_webhook != webhook:
        progress("restarting the sandbox so Alertmanager posts to this run's agent")
        lifecycle.down(sandbox_dir)
    state = lifecycle.up(sandbox_dir, alert_webhook=webhook, progress=progress)
    settings = agent_settings(state, out_dir / "agent-data", overrides)
    agent = start_agent(settings, port)
    api = kube_config.new_client_from_config(config_file=state.kubeconfig)
    return EvalEnv(
        agent,
        state,
        api,
        ControlClient(state.control_url),
        AuditLog.open(settings),
        progress,
    )
