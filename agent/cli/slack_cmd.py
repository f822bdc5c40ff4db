"""`devops-agent slack`: the Slack bot on its own (without `serve`)."""

from __future__ import annotations

import logging
import threading

import typer

from agent.cli import app
from agent.cli.common import console, fail, settings


@app.command("slack")
def slack(
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address in HTTP mode."),
    port: int | None = typer.Option(
        None, "--port", help="Listen port in HTTP mode (default DEVOPS_AGENT_SLACK_PORT)."
    ),
) -> None:
    """Run the Slack bot alone: Socket Mode with an app token, else HTTP mode on /slack/events."""
    from agent.runner import Runner
    from agent.slack.bot import SlackBot

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = settings()
    try:
        bot = SlackBot(cfg, Runner(cfg))
    except ValueError as exc:
        fail(str(exc))
    if cfg.slack_app_token is not None:
        bot.start_background()
        console.print("Slack bot connected in Socket Mode; Ctrl-C to stop")
        try:
            threading.Event().wait()
        finally:
            bot.stop()
        return
    import uvicorn

    from agent.slack.http import slack_app

    bind_port = port if port is not None else cfg.slack_port
    console.print(f"Slack bot in HTTP mode on http://{host}:{bind_port}/slack/events")
    uvicorn.run(slack_app(bot), host=host, port=bind_port)
