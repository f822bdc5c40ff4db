"""HTTP mode: Slack posts events and button clicks to /slack/events; bolt verifies their signatures."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from slack_bolt.adapter.fastapi import SlackRequestHandler

from agent.slack.bot import SlackBot


def mount_slack(app: FastAPI, bot: SlackBot) -> None:
    handler = SlackRequestHandler(bot.app)

    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)


def slack_app(bot: SlackBot) -> FastAPI:
    """A standalone app for `devops-agent slack` in HTTP mode."""
    app = FastAPI(title="devops-agent slack", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    mount_slack(app, bot)
    return app
