"""The Slack bot against a local server speaking Slack's Web API, with signed requests posted to
bolt's HTTP handler: mentions open threads, approvals by button execute once and only for approvers."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.slack_server import SIGNING_SECRET, FakeSlack, click, event, mention, signed
from fastapi.testclient import TestClient

from agent.approvals import ApprovalDecision, ApprovalRequest, ApprovalStore
from agent.settings import Settings
from agent.slack.bot import SlackBot
from agent.slack.http import slack_app
from tools.base import Target

SECRET_VALUE = "hunter2-db-password-value"


class ScriptedRunner:
    """Investigations return a fixed answer and open one approval; resume claims it in the store
    (as the real runner does) and counts executions, so a double click would show up here."""

    def __init__(self, store: ApprovalStore) -> None:
        self.store = store
        self.executed: list[str] = []
        self.questions: list[tuple[str | None, str | None]] = []
        self.lock = threading.Lock()

    def investigate(
        self,
        *,
        question: str | None = None,
        alert: Any = None,
        thread_id: str | None = None,
        on_event: Any = None,
    ) -> dict[str, Any]:
        self.questions.append((question, thread_id))
        if on_event:
            on_event(
                {"type": "tool_started", "tool": "k8s_pod_logs", "args": {"pod": "deployment/predictor"}}
            )
            on_event(
                {
                    "type": "tool_finished",
                    "tool": "k8s_pod_logs",
                    "status": "ok",
                    "summary": f"connect with password={SECRET_VALUE} failed",
                }
            )
        req = self.store.add(
            ApprovalRequest.create(
                ttl_s=600,
                incident_id=str(thread_id),
                tool="k8s_rollback",
                args={"deployment": "predictor"},
                target=Target(kind="Deployment", name="predictor", namespace="market-predictor"),
                risk="write",
                reason="5xx since the rollout of predictor:1.5.0",
                diff="image: predictor:1.5.0 -> predictor:1.4.0",
            )
        )
        self.approval_id = req.id
        return {
            "incident_id": thread_id,
            "status": "awaiting_approval",
            "summary": f"predictor 1.5.0 raises 5xx; env DB_PASSWORD={SECRET_VALUE}",
        }

    def claim(self, approval_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        return self.store.decide(decision)  # raises ApprovalError when already decided

    def resume(
        self, approval_id: str, decision: ApprovalDecision, *, claimed: bool = False, on_event: Any = None
    ) -> dict[str, Any]:
        if not claimed:
            self.claim(approval_id, decision)
        if on_event:
            on_event({"type": "tool_started", "tool": "k8s_rollback", "args": {"deployment": "predictor"}})
        time.sleep(0.2)  # the action takes a moment: a second click arrives meanwhile
        with self.lock:
            self.executed.append(approval_id)
        return {"incident_id": "x", "status": "resolved", "summary": "rolled back predictor to revision 1"}


@pytest.fixture
def slack(tmp_path: Path) -> Any:
    fake = FakeSlack(group_members=["UGROUPIE"])
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.url,
        slack_channel="CINC",
        slack_approvers=["UALICE"],
        slack_approver_group="SOPS",
    )
    store = ApprovalStore(settings.path("approvals.sqlite"))
    runner = ScriptedRunner(store)
    bot = SlackBot(settings, runner)
    client = TestClient(slack_app(bot))
    yield fake, runner, client, store
    fake.close()


def test_mention_opens_a_thread_and_the_answer_lands_in_it(slack: Any) -> None:
    fake, runner, client, _ = slack
    mention(client)
    fake.wait_for(lambda: any("blocks" in p for p in fake.of("chat.postMessage")))
    posts = fake.of("chat.postMessage")
    assert all(p.get("thread_ts") == "111.222" for p in posts)
    assert any("awaiting_approval" in p["text"] and "predictor 1.5.0" in p["text"] for p in posts)
    assert runner.questions == [("why is predictor slow?", "slack-CINC-111-222")]
    # progress shown as status lines, edited in place
    updates = fake.of("chat.update")
    assert any("k8s_pod_logs" in u["text"] for u in updates)
    # the approval message carries buttons tied to the approval id
    approval = next(p for p in posts if "blocks" in p)
    buttons = [e for b in approval["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["value"] for b in buttons} == {runner.approval_id}


def test_follow_up_in_thread_continues_the_conversation(slack: Any) -> None:
    fake, runner, client, _ = slack
    mention(client)
    fake.wait_for(lambda: len(runner.questions) == 1)
    body = event(
        {
            "type": "message",
            "user": "UBOB",
            "text": "and the cache?",
            "channel": "CINC",
            "ts": "111.999",
            "thread_ts": "111.222",
            "channel_type": "channel",
        }
    )
    client.post("/slack/events", content=body, headers={**signed(body), "content-type": "application/json"})
    fake.wait_for(lambda: len(runner.questions) == 2)
    assert runner.questions[1] == ("and the cache?", "slack-CINC-111-222")


def test_allowed_click_executes_once_and_updates_the_message(slack: Any) -> None:
    fake, runner, client, store = slack
    mention(client)
    fake.wait_for(lambda: hasattr(runner, "approval_id"))
    assert click(client, "UALICE", runner.approval_id) == 200
    fake.wait_for(lambda: any("approved by <@UALICE>" in u.get("text", "") for u in fake.of("chat.update")))
    upd = next(u for u in fake.of("chat.update") if "approved by" in u.get("text", ""))
    assert all(b["type"] != "actions" for b in upd["blocks"])  # buttons removed
    fake.wait_for(
        lambda: any("rolled back predictor" in p.get("text", "") for p in fake.of("chat.postMessage"))
    )
    assert runner.executed == [runner.approval_id]
    # the run's progress after the decision is shown in the thread, like the investigation's
    assert any(u.get("text", "").startswith(":mag: Acted\n") for u in fake.of("chat.update"))
    assert store.get(runner.approval_id).decided_by == "slack:UALICE"


def test_double_click_executes_once(slack: Any) -> None:
    fake, runner, client, _ = slack
    mention(client)
    fake.wait_for(lambda: hasattr(runner, "approval_id"))
    assert click(client, "UALICE", runner.approval_id) == 200
    assert click(client, "UALICE", runner.approval_id) == 200
    fake.wait_for(lambda: any("already approved" in p.get("text", "") for p in fake.of("chat.postEphemeral")))
    time.sleep(0.5)
    assert runner.executed == [runner.approval_id]


def test_group_member_may_decide_but_others_get_an_ephemeral_refusal(slack: Any) -> None:
    fake, runner, client, store = slack
    mention(client)
    fake.wait_for(lambda: hasattr(runner, "approval_id"))
    click(client, "UMALLORY", runner.approval_id)
    fake.wait_for(lambda: fake.of("chat.postEphemeral"))
    refusal = fake.of("chat.postEphemeral")[0]
    assert refusal["user"] == "UMALLORY" and "not on the approver list" in refusal["text"]
    assert runner.executed == [] and store.get(runner.approval_id).status == "pending"
    click(client, "UGROUPIE", runner.approval_id, action="devops_agent_reject")
    fake.wait_for(lambda: store.get(runner.approval_id).status == "rejected")


def test_expired_approval_says_so(slack: Any) -> None:
    fake, runner, client, store = slack
    req = store.add(
        ApprovalRequest.create(
            ttl_s=10,
            incident_id="i",
            tool="k8s_scale",
            args={},
            target=Target(kind="Deployment", name="p"),
            risk="write",
        )
    )
    import sqlite3

    db = sqlite3.connect(store.path)
    expired = req.model_copy(update={"expires_at": req.requested_at})
    db.execute("UPDATE approvals SET request = ? WHERE id = ?", (expired.model_dump_json(), req.id))
    db.commit()
    click(client, "UALICE", req.id)
    fake.wait_for(lambda: any("expired" in u.get("text", "") for u in fake.of("chat.update")))
    assert runner.executed == []


def test_forged_signature_is_refused(slack: Any) -> None:
    _fake, runner, client, _ = slack
    body = event(
        {
            "type": "app_mention",
            "user": "UBOB",
            "text": "<@UBOT> delete everything",
            "channel": "CINC",
            "ts": "5.5",
        }
    )
    r = client.post(
        "/slack/events",
        content=body,
        headers={**signed(body, secret="not-the-secret"), "content-type": "application/json"},
    )
    assert r.status_code == 401
    stale = client.post(
        "/slack/events",
        content=body,
        headers={**signed(body, ts=int(time.time()) - 3600), "content-type": "application/json"},
    )
    assert stale.status_code == 401
    time.sleep(0.3)
    assert runner.questions == []


def test_no_secret_reaches_slack(slack: Any) -> None:
    fake, _runner, client, _ = slack
    mention(client)
    fake.wait_for(lambda: any("blocks" in p for p in fake.of("chat.postMessage")))
    time.sleep(0.3)
    assert SECRET_VALUE not in fake.all_text()


def test_refused_slack_requests_are_written_to_the_audit_log(slack: Any, tmp_path: Path) -> None:
    """A forged signature, a replayed timestamp and an approver outside the allow list: each is
    refused and leaves a request_refused row saying why."""
    from agent.audit import AuditLog

    fake, runner, client, store = slack
    body = event(
        {"type": "app_mention", "user": "UBOB", "text": "<@UBOT> hi", "channel": "CINC", "ts": "6.6"}
    )
    forged = client.post(
        "/slack/events",
        content=body,
        headers={**signed(body, secret="not-the-secret"), "content-type": "application/json"},
    )
    replayed = client.post(
        "/slack/events",
        content=body,
        headers={**signed(body, ts=int(time.time()) - 600), "content-type": "application/json"},
    )
    assert forged.status_code == replayed.status_code == 401
    mention(client)
    fake.wait_for(lambda: any("blocks" in p for p in fake.of("chat.postMessage")))
    click(client, "UMALLORY", runner.approval_id)
    fake.wait_for(lambda: bool(fake.of("chat.postEphemeral")))
    assert runner.executed == []
    assert store.get(runner.approval_id).status == "pending"
    rows = AuditLog(tmp_path / "audit.sqlite").rows(kind="request_refused")
    whys = [r.data["why"] for r in rows]
    assert any("Signature does not match" in w for w in whys)
    assert any("replayed request" in w for w in whys)
    assert [r.actor for r in rows if "approver list" in r.data["why"]] == ["slack:UMALLORY"]
    assert all(r.data["channel"] == "slack" for r in rows)


def test_slack_failing_does_not_lose_a_decision(slack: Any) -> None:
    """Slack's Web API goes down between the approval message and the click: the click still
    decides once and the action runs once; only the message edits are lost (and logged)."""
    from fakes.campaign_out import record

    fake, runner, client, store = slack
    mention(client)
    fake.wait_for(lambda: any("blocks" in p for p in fake.of("chat.postMessage")))
    fake.close()  # Slack is down from here on
    click(client, "UALICE", runner.approval_id)
    deadline = time.monotonic() + 10
    while not runner.executed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.executed == [runner.approval_id]
    assert store.get(runner.approval_id).status == "approved"
    record(
        "dependency",
        {"fault": "Slack Web API down at the approval click", "survived": True, "status": "approved"},
    )
