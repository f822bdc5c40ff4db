"""HTTP mode: Slack posts events and button clicks to /slack/events; bolt verifies their signatures."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.fastapi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from agent.slack.bot import SlackBot

MAX_SKEW_S = 300
"""Slack's own rule: a request signed more than five minutes ago is a replay."""


def refusal(bot: SlackBot, body: bytes, timestamp: str, signature: str) -> str | None:
    """Why a request to /slack/events must be refused (bad signature, replayed timestamp), or None."""
    secret = bot.settings.slack_signing_secret
    if secret is None:
        return None  # Socket Mode: Slack does not sign, bolt refuses HTTP requests
    if not timestamp.isdigit():
        return f"no usable X-Slack-Request-Timestamp ({timestamp[:20]!r})"
    skew = abs(time.time() - int(timestamp))
    if skew > MAX_SKEW_S:
        return (
            f"timestamp {timestamp} is {skew:.0f} s away from now (over {MAX_SKEW_S} s): a replayed request"
        )
    if not SignatureVerifier(secret.get_secret_value()).is_valid(body, timestamp, signature):
        return "the X-Slack-Signature does not match the body: not signed with the app's signing secret"
    return None


def mount_slack(app: FastAPI, bot: SlackBot) -> None:
    handler = SlackRequestHandler(bot.app)

    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        body = await request.body()  # cached: bolt reads the same bytes
        why = refusal(
            bot,
            body,
            request.headers.get("x-slack-request-timestamp", ""),
            request.headers.get("x-slack-signature", ""),
        )
        if why is not None:
            client = request.client.host if request.client else "?"
            bot.refused(why, source=client)
            return JSONResponse({"error": f"refused: {why}"}, 401)
        return await handler.handle(request)


def slack_app(bot: SlackBot) -> FastAPI:
    """A standalone app for `devops-agent slack` in HTTP mode."""
    app = FastAPI(title="devops-agent slack", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    mount_slack(app, bot)
    return app
