"""`devops-agent serve`: autonomous mode on Alertmanager webhooks, with the approvals API."""

from __future__ import annotations

import logging
from typing import Any

import typer

from agent.cli import app
from agent.cli.common import console, fail, settings


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, "--host", help="Listen address (default DEVOPS_AGENT_SERVE_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Listen port (default DEVOPS_AGENT_SERVE_PORT)."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Run the webhook receiver, the investigation workers and the HTTP API (and Slack when configured)."""
    import uvicorn

    from agent.runner import Runner
    from agent.server.app import create_app
    from agent.server.service import Service

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = settings()
    runner = Runner(cfg)
    service = Service(cfg, runner)
    slack: Any = None
    if cfg.slack_bot_token is not None:
        from agent.slack.bot import SlackBot

        try:
            slack = SlackBot(cfg, service)  # decisions in Slack keep serve's incident index in step
        except ValueError as exc:
            fail(str(exc))
        service.notifiers.append(slack)
    service.start()
    journal: Any = None
    if cfg.journal_enabled:
        from agent.cli.journal_cmd import start_watcher

        journal = start_watcher(cfg, runner.deps.tool_deps)
        console.print(f"change journal: recording into {cfg.effective_journal_path}")
    anchors = _anchor_publisher(cfg, runner, service)
    drift = _drift_monitor(cfg, runner, service)
    if slack is not None:
        slack.start_background()
    bind_host, bind_port = host or cfg.serve_host, port if port is not None else cfg.serve_port
    if cfg.api_token is None:
        console.print(
            "[yellow]warning:[/] DEVOPS_AGENT_API_TOKEN is not set: the approvals and incidents API refuses every call"
        )
    console.print(f"devops-agent serving on http://{bind_host}:{bind_port} (webhook: /webhook/alertmanager)")
    web = create_app(service)
    if slack is not None and cfg.slack_app_token is None:
        from agent.slack.http import mount_slack

        mount_slack(web, slack)
        console.print("Slack in HTTP mode: point the app's request URL at /slack/events")
    try:
        uvicorn.run(web, host=bind_host, port=bind_port, log_level=log_level.lower())
    finally:
        service.stop()
        if journal is not None:
            journal.stop()
        anchors.stop()
        drift.stop()
        if slack is not None:
            slack.stop()


def _anchor_publisher(cfg: Any, runner: Any, service: Any) -> Any:
    """Publish the audit head outside the database every audit_anchor_interval_s (log line, file, /metrics)."""
    from agent.audit_anchor import AnchorPublisher

    publisher = AnchorPublisher(
        runner.deps.audit,
        cfg.audit_anchor_file or cfg.path("audit-anchors.jsonl"),
        cfg.audit_anchor_interval_s,
        on_publish=lambda a: service.metrics.observe_audit_head(a.rows, a.hash),
    )
    publisher.start()
    return publisher


def _drift_monitor(cfg: Any, runner: Any, service: Any) -> Any:
    """Check drift against the desired state every drift_interval_s (GET /api/drift, /metrics)."""
    from agent.drift import DriftMonitor

    monitor = DriftMonitor(cfg, runner.deps.tool_deps, on_check=service.metrics.observe_drift)
    service.drift = monitor
    if monitor.start() is not None:
        console.print(
            f"drift: checking {cfg.desired_state} every {cfg.drift_interval_s:g} s (GET /api/drift)"
        )
    return monitor
