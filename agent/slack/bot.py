"""The Slack bot: investigations in threads, approvals by button, incidents from `serve`.

Built on slack_bolt; works in Socket Mode (no public URL: set DEVOPS_AGENT_SLACK_APP_TOKEN) or in
HTTP mode (Slack posts to /slack/events; bolt verifies the request signature with the signing
secret). Every message leaves through :meth:`SlackBot._call`, which redacts text and blocks, so no
secret reaches Slack.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from agent.approvals import ApprovalDecision, ApprovalError, ApprovalStore
from agent.audit import AuditLog
from agent.events import event_dict, outcome_dict
from agent.policy import load_policy
from agent.settings import Settings
from agent.slack import blocks as bk
from agent.slack.threads import ThreadStore
from tools.redact import redact_obj, redact_text

log = logging.getLogger("devops_agent.slack")
MENTION = re.compile(r"<@[A-Z0-9]+>")
MAX_TEXT = 3500


class SlackBot:
    def __init__(self, settings: Settings, runner: Any, *, client: WebClient | None = None) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("Slack needs DEVOPS_AGENT_SLACK_BOT_TOKEN (xoxb-...); see docs/slack.md")
        if settings.slack_app_token is None and settings.slack_signing_secret is None:
            raise ValueError(
                "Slack needs either DEVOPS_AGENT_SLACK_APP_TOKEN (Socket Mode) or DEVOPS_AGENT_SLACK_SIGNING_SECRET "
                "(HTTP mode); see docs/slack.md"
            )
        self.settings = settings
        self.runner = runner
        token = settings.slack_bot_token.get_secret_value()
        self.client = client or WebClient(token=token, base_url=settings.slack_api_url or WebClient.BASE_URL)
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
        self.app = App(
            client=self.client, signing_secret=secret or "socket-mode", token_verification_enabled=True
        )
        self.threads = ThreadStore(settings.path("slack.sqlite"))
        self.approvals = ApprovalStore.open(settings)
        self.audit = AuditLog.open(settings)
        self.policy = load_policy(settings.policy_file)
        self._socket: Any = None
        self._progress_lock = threading.Lock()
        self._register()

    # --- outgoing -----------------------------------------------------------------------------
    def _call(self, method: str, **kwargs: Any) -> Any:
        """Every message to Slack goes through here: redacted, never raising into a handler."""
        if "text" in kwargs:
            kwargs["text"] = redact_text(str(kwargs["text"]))[:MAX_TEXT]
        if "blocks" in kwargs:
            kwargs["blocks"] = redact_obj(kwargs["blocks"])
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception:
            log.exception("Slack %s failed", method)
            return None

    def _post(
        self,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        blocks: Any = None,
        *,
        broadcast: bool = False,
    ) -> str | None:
        kw: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            kw["thread_ts"] = thread_ts
            if broadcast:  # a thread reply also shown in the channel: the page for an escalation
                kw["reply_broadcast"] = True
        if blocks is not None:
            kw["blocks"] = blocks
        resp = self._call("chat_postMessage", **kw)
        return str(resp["ts"]) if resp is not None and resp.get("ok") else None

    # --- handlers -----------------------------------------------------------------------------
    def _register(self) -> None:
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(bk.APPROVE)(self._on_approve)
        self.app.action(bk.REJECT)(self._on_reject)

    def _on_mention(self, event: dict[str, Any], ack: Ack | None = None) -> None:
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        question = MENTION.sub("", event.get("text", "")).strip()
        self._converse(channel, thread_ts, question, user=event.get("user"))

    def _on_message(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return
        bot_user = context.get("bot_user_id")
        text = event.get("text", "")
        if bot_user and f"<@{bot_user}>" in text:
            return  # the app_mention handler answers it
        channel = event["channel"]
        thread_ts = event.get("thread_ts")
        if event.get("channel_type") == "im":
            self._converse(channel, thread_ts or event["ts"], text.strip(), user=event.get("user"))
        elif thread_ts and self.threads.conversation(channel, thread_ts):
            self._converse(channel, thread_ts, text.strip(), user=event.get("user"))

    def _converse(self, channel: str, thread_ts: str, question: str, user: str | None) -> None:
        if not question:
            self._post(
                channel, "Ask me about a service, e.g. `@devops-agent why is predictor slow?`", thread_ts
            )
            return
        thread_id = self.threads.conversation(channel, thread_ts) or f"slack-{channel}-{thread_ts}".replace(
            ".", "-"
        )
        self.threads.save_conversation(channel, thread_ts, thread_id)
        progress = _Progress(self, channel, thread_ts, "Investigating")
        try:
            outcome = outcome_dict(
                self.runner.investigate(question=question, thread_id=thread_id, on_event=progress)
            )
        except Exception as exc:
            log.exception("investigation from Slack failed")
            self._post(channel, f":x: The investigation failed: {exc}", thread_ts)
            return
        progress.done("Investigated")
        self._post(channel, bk.answer_text(outcome), thread_ts)
        self._post_approvals(channel, thread_ts, str(outcome.get("incident_id") or thread_id))

    def _post_approvals(self, channel: str, thread_ts: str, incident_id: str) -> None:
        for req in self.approvals.list(status="pending", incident_id=incident_id):
            if self.threads.approval_message(req.id):
                continue
            data = ApprovalStore.to_json(req)
            ts = self._post(
                channel, f"Approval needed: {req.summary()}", thread_ts, blocks=bk.approval_blocks(data)
            )
            if ts:
                self.threads.save_approval(req.id, channel, ts, thread_ts)

    def _on_approve(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self._decide(body, "approve")

    def _on_reject(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self._decide(body, "reject")

    def refused(self, why: str, *, source: str, **data: Any) -> None:
        """Write a refused Slack request to the audit log (and the log); never raises into a handler."""
        log.warning("refused a Slack request from %s: %s", source, why)
        try:
            self.audit.append("request_refused", actor=source, data={"channel": "slack", "why": why, **data})
        except Exception:
            log.exception("could not audit a refused Slack request")

    def may_decide(self, user: str) -> bool:
        allowed = set(self.settings.slack_approvers)
        group = self.settings.slack_approver_group
        if not allowed and not group:
            allowed = {a.removeprefix("slack:") for a in self.policy.guardrails.approvers}
        if user in allowed:
            return True
        if group:
            resp = self._call("usergroups_users_list", usergroup=group)
            return resp is not None and user in (resp.get("users") or [])
        return False

    def _decide(self, body: dict[str, Any], decision: str) -> None:
        user = body["user"]["id"]
        approval_id = body["actions"][0]["value"]
        channel = body["channel"]["id"]
        message = body.get("message") or {}
        ts, original = message.get("ts"), message.get("blocks") or []
        if not self.may_decide(user):
            self.refused(
                f"slack:{user} is not on the approver list",
                source=f"slack:{user}",
                approval_id=approval_id,
                decision=decision,
            )
            self._call(
                "chat_postEphemeral",
                channel=channel,
                user=user,
                text=f"Sorry <@{user}>, you are not on the approver list for `{approval_id}`; nothing was changed.",
            )
            return
        d = ApprovalDecision(
            approval_id=approval_id,
            decision=decision,
            approver=f"slack:{user}",  # type: ignore[arg-type]
            reason=f"{decision}d in Slack by {user}",
        )
        thread_ts = message.get("thread_ts") or ts
        try:  # claimed first, so the buttons go at once and a second click is refused meanwhile
            self.runner.claim(approval_id, d)
        except ApprovalError as exc:
            self._settled(channel, ts, original, approval_id, user, str(exc))
            return
        line = bk.decision_line(decision, user, datetime.now(UTC))
        if ts:
            self._call(
                "chat_update", channel=channel, ts=ts, text=line, blocks=bk.decided_blocks(original, line)
            )
        progress = _Progress(self, channel, thread_ts, "Acting" if decision == "approve" else "Continuing")
        try:
            outcome = outcome_dict(self.runner.resume(approval_id, d, claimed=True, on_event=progress))
        except Exception as exc:
            log.exception("continuing the run after a Slack decision failed")
            self._post(channel, f":x: Continuing after the decision failed: {exc}", thread_ts)
            return
        progress.done("Acted" if decision == "approve" else "Continued")
        self._post(channel, bk.answer_text(outcome), thread_ts)

    def _settled(
        self,
        channel: str,
        ts: str | None,
        original: list[dict[str, Any]],
        approval_id: str,
        user: str,
        problem: str,
    ) -> None:
        """A click on a request that is no longer pending: say so, and make sure the buttons are gone."""
        try:
            req = self.approvals.get(approval_id)
            who = (req.decided_by or "").removeprefix("slack:")
            if req.status == "expired":
                line = f":hourglass: expired at {req.expires_at:%Y-%m-%d %H:%M:%S} UTC; nothing was run"
            elif req.status in ("approved", "rejected") and req.decided_at is not None:
                line = f"{req.status} by <@{who}> at {req.decided_at:%Y-%m-%d %H:%M:%S} UTC"
            else:
                line = problem
        except ApprovalError:
            line = problem
        if ts:
            self._call(
                "chat_update", channel=channel, ts=ts, text=line, blocks=bk.decided_blocks(original, line)
            )
        self._call("chat_postEphemeral", channel=channel, user=user, text=f"{problem}")

    # --- Notifier (serve) ---------------------------------------------------------------------
    def incident_opened(self, incident: dict[str, Any]) -> None:
        channel = self.settings.slack_channel
        if not channel or self.threads.incident(incident["id"]):
            return
        ts = self._post(channel, bk.incident_line(incident))
        if ts:
            self.threads.save_incident(incident["id"], channel, ts)

    def incident_event(self, incident: dict[str, Any], event: dict[str, Any]) -> None:
        where = self.threads.incident(incident["id"])
        line = bk.event_line(event)
        if where is None or line is None:
            return
        channel, ts, status_ts, lines = where
        with self._progress_lock:
            lines = [*lines, line]
            if status_ts is None:
                status_ts = self._post(channel, bk.progress_text(lines), ts)
            else:
                self._call("chat_update", channel=channel, ts=status_ts, text=bk.progress_text(lines))
            self.threads.save_progress(incident["id"], status_ts, lines)

    def investigation_finished(self, incident: dict[str, Any], outcome: dict[str, Any]) -> None:
        where = self.threads.incident(incident["id"])
        if where is None:
            return
        channel, ts = where[0], where[1]
        self._post(channel, bk.answer_text(outcome), ts)
        if outcome.get("handoff"):
            self._post(channel, bk.handoff_text(incident, outcome["handoff"]), ts, broadcast=True)
        self._post_approvals(channel, ts, incident["id"])

    def incident_closed(self, incident: dict[str, Any], postmortem: str) -> None:
        where = self.threads.incident(incident["id"])
        if where is None:
            return
        text = ":white_check_mark: Resolved in Alertmanager; incident closed.\n"
        if postmortem:
            text += (
                postmortem
                if len(postmortem) < MAX_TEXT - 200
                else (
                    postmortem[: MAX_TEXT - 300]
                    + f"\n… full postmortem: `devops-agent incidents report {incident['id']}`"
                )
            )
        self._post(where[0], text, where[1])

    # --- running ------------------------------------------------------------------------------
    def start_background(self) -> None:
        """Socket Mode when an app token is set; in HTTP mode `serve` mounts :func:`asgi_app`."""
        if self.settings.slack_app_token is None:
            return
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self._socket = SocketModeHandler(self.app, self.settings.slack_app_token.get_secret_value())
        self._socket.connect()

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()


class _Progress:
    """One status message in a thread, edited in place with a line per runner event."""

    def __init__(self, bot: SlackBot, channel: str, thread_ts: str | None, verb: str) -> None:
        self.bot, self.channel, self.verb = bot, channel, verb
        self.lines: list[str] = []
        self.ts = bot._post(channel, bk.progress_text([], verb), thread_ts)

    def __call__(self, raw: Any) -> None:
        line = bk.event_line(event_dict(raw))
        if line and self.ts:
            self.lines.append(line)
            self.bot._call(
                "chat_update", channel=self.channel, ts=self.ts, text=bk.progress_text(self.lines, self.verb)
            )

    def done(self, verb: str) -> None:
        if self.ts:
            text = bk.progress_text(self.lines or ["(no tool calls)"], verb, finished=True)
            self.bot._call("chat_update", channel=self.channel, ts=self.ts, text=text)
