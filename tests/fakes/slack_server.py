"""A local server speaking the slice of Slack's Web API the bot uses; records every call.

Also the other direction: signed events and button clicks as Slack posts them to the bot's
``/slack/events`` (bolt verifies the signature with :data:`SIGNING_SECRET`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi.testclient import TestClient

SIGNING_SECRET = "signing-secret-for-tests"


class FakeSlack:
    def __init__(self, group_members: list[str] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.posted: list[dict[str, Any]] = []  # chat.postMessage calls with the ts they were given
        self.group_members = group_members or []
        self._ts = 1000
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("content-type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks",):
                        if isinstance(params.get(key), str):
                            params[key] = json.loads(params[key])
                method = self.path.rsplit("/", 1)[-1]
                body = fake.answer(method, params)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, params))
            self._ts += 1
            ts = f"{self._ts}.000100"
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "devops-agent",
                "team": "t",
            }
        if method == "chat.postMessage":
            with self._lock:
                self.posted.append({**params, "ts": ts})
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": ts,
                "message": {"ts": ts, "text": params.get("text")},
            }
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.group_members}
        return {"ok": True, "ts": params.get("ts", ts)}

    def of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for m, p in self.calls if m == method]

    def wait_for(self, cond: Any, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not met; calls so far: {[m for m, _ in self.calls]}")

    def all_text(self) -> str:
        with self._lock:
            return json.dumps(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed(body: str, secret: str = SIGNING_SECRET, ts: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with (v0 HMAC-SHA256 over timestamp and body)."""
    stamp = str(ts or int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}


def event(ev: dict[str, Any]) -> str:
    """An Events API callback body around one event."""
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T1",
            "api_app_id": "A1",
            "event": ev,
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "token": "x",
        }
    )


def mention(
    client: TestClient,
    text: str = "<@UBOT> why is predictor slow?",
    ts: str = "111.222",
    channel: str = "CINC",
    user: str = "UBOB",
) -> None:
    """Post a signed @mention of the bot; bolt acknowledges it at once and answers in the background."""
    body = event({"type": "app_mention", "user": user, "text": text, "channel": channel, "ts": ts})
    r = client.post(
        "/slack/events", content=body, headers={**signed(body), "content-type": "application/json"}
    )
    assert r.status_code == 200


def click(
    client: TestClient,
    user: str,
    approval_id: str,
    action: str = "devops_agent_approve",
    message_ts: str = "2000.000100",
    thread_ts: str = "111.222",
    blocks: list[dict[str, Any]] | None = None,
    channel: str = "CINC",
) -> int:
    """Post a signed button click on the approval message (``blocks``: the message as Slack shows it)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "token": "x",
        "trigger_id": "t",
        "channel": {"id": channel},
        "container": {"type": "message"},
        "message": {
            "ts": message_ts,
            "thread_ts": thread_ts,
            "blocks": blocks if blocks is not None else [{"type": "actions", "elements": []}],
        },
        "actions": [
            {
                "action_id": action,
                "block_id": f"approval:{approval_id}",
                "value": approval_id,
                "type": "button",
                "action_ts": "1",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    r = client.post(
        "/slack/events",
        content=body,
        headers={**signed(body), "content-type": "application/x-www-form-urlencoded"},
    )
    return r.status_code
