"""Slack with the real graph: an @mention is investigated by the real Runner (offline planner, real
tools against the Kubernetes API stand-in), its rollback proposal becomes buttons, and a signed click
by an approver resumes the paused run; Slack's side is the local fake Web API server."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.agent_env import BAD_IMAGE, ENV_PASSWORD, NAMESPACE, offline_values
from fakes.slack_server import SIGNING_SECRET, FakeSlack, click, mention
from fastapi.testclient import TestClient

from agent.audit import AuditLog
from agent.runner import Runner
from agent.settings import Settings
from agent.slack.bot import SlackBot
from agent.slack.http import slack_app
from sandbox.images import CURRENT
from sandbox.kube.store import Store
from sandbox.platform import CACHE_PASSWORD, FEATURE_STORE_PASSWORD

pytestmark = pytest.mark.timeout(180)

THREAD = "1700000000.000100"
INCIDENT = "slack-CINC-1700000000-000100"
GOOD_IMAGE = CURRENT["predictor"]


def image_of(store: Store) -> str:
    dep = store.get("deployments", NAMESPACE, "predictor")
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture
def slack(
    tmp_path: Path, cluster: tuple[Store, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeSlack, TestClient, Runner, Store]]:
    store, kubeconfig = cluster
    for key in list(os.environ):  # no model, policy or config file from the machine running the tests
        if key.startswith(("DEVOPS_AGENT_", "OPENAI_")):
            monkeypatch.delenv(key)
    fake = FakeSlack()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        **offline_values(tmp_path, kubeconfig),
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.url,
        slack_approvers=["UALICE"],
    )
    runner = Runner(settings)
    assert runner.deps.reasoner.name == "planner"
    try:
        yield fake, TestClient(slack_app(SlackBot(settings, runner))), runner, store
    finally:
        runner.close()
        fake.close()


def thread_posts(fake: FakeSlack) -> list[dict[str, Any]]:
    """The bot's messages (with the ts Slack gave them); every one of them in the mention's thread."""
    posts = list(fake.posted)
    assert all(p.get("thread_ts") == THREAD for p in posts), posts
    return posts


def test_mention_to_approved_rollback_through_the_real_graph(slack: Any, tmp_path: Path) -> None:
    fake, client, runner, store = slack
    audit = AuditLog(tmp_path / "data" / "audit.sqlite")

    # 1. the mention opens a thread; the real investigation posts its progress and findings into it
    mention(client, "<@UBOT> why is the predictor failing?", ts=THREAD)
    fake.wait_for(lambda: any("blocks" in p for p in fake.posted), timeout=90)
    posts = thread_posts(fake)
    progress = [u["text"] for u in fake.of("chat.update")]
    for tool in ("triage", "k8s_rollout_history", "k8s_rollback"):  # real tool calls, as they ran
        assert any(f"• `{tool}`" in text for text in progress), tool
    final = progress[-1]
    assert (
        final.startswith(":mag: Investigated")
        and f"waiting for approval `{runner.waiting_for(INCIDENT)}`" in final
    )
    assert len(final.splitlines()) <= 14  # a heading, "… earlier steps" and 12 one-line steps
    answer = next(p["text"] for p in posts if "awaiting_approval" in p["text"])
    assert "*Findings:*" in answer
    assert "readiness_failing `Deployment/market-predictor/predictor`" in answer
    assert f"recent_rollout `Deployment/{NAMESPACE}/predictor`" in answer and BAD_IMAGE in answer

    # 2. the planner's rollback proposal is a message with buttons; nothing has changed yet
    [req] = runner.pending_approvals(INCIDENT)
    assert (req.tool, req.args) == ("k8s_rollback", {"deployment": "predictor", "namespace": NAMESPACE})
    approval = next(p for p in posts if "blocks" in p)
    buttons = [e for b in approval["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(b["action_id"], b["value"]) for b in buttons} == {
        ("devops_agent_approve", req.id),
        ("devops_agent_reject", req.id),
    }
    assert f"+    image: {GOOD_IMAGE}" in str(approval["blocks"])  # the server-side dry-run diff
    assert image_of(store) == BAD_IMAGE
    assert audit.rows(incident_id=INCIDENT, kind="action_applied") == []

    def press(user: str) -> None:  # as Slack posts it: the message clicked on, in its thread
        status = click(
            client, user, req.id, message_ts=approval["ts"], thread_ts=THREAD, blocks=approval["blocks"]
        )
        assert status == 200

    # 3. someone not on the allow-list is refused, and nothing changes
    press("UMALLORY")
    fake.wait_for(lambda: fake.of("chat.postEphemeral"))
    [refusal] = fake.of("chat.postEphemeral")
    assert refusal["user"] == "UMALLORY" and "not on the approver list" in refusal["text"]
    assert runner.deps.approvals.get(req.id).status == "pending"
    assert runner.waiting_for(INCIDENT) == req.id
    assert image_of(store) == BAD_IMAGE

    # 4. + 5. the approver double-clicks: one click resumes the real graph, the other is told why not
    press("UALICE")
    press("UALICE")
    # the run's progress after the decision, then its result, in the thread
    fake.wait_for(lambda: len(fake.posted) == len(posts) + 2, timeout=90)
    fake.wait_for(lambda: len(fake.of("chat.postEphemeral")) == 2)
    acting, result = (p["text"] for p in thread_posts(fake)[-2:])
    assert acting.startswith(":mag: Acting…")
    after = [u["text"] for u in fake.of("chat.update") if u["ts"] == thread_posts(fake)[-2]["ts"]]
    assert after[-1].startswith(":mag: Acted\n") and "k8s_rollback" in after[-1], after
    # The simulation is frozen in this test, so verify sees the pods stay unready: an honest no_effect.
    assert result.startswith(":x: *mitigation_failed*") and "k8s_rollback" in result and "no_effect" in result
    [verify] = audit.rows(incident_id=INCIDENT, kind="verify")
    assert verify.data["outcome"] == "no_effect"
    second = fake.of("chat.postEphemeral")[1]
    assert second["user"] == "UALICE" and req.id in second["text"] and "nothing changed" in second["text"]
    on_approval = [u for u in fake.of("chat.update") if u["ts"] == approval["ts"]]
    assert on_approval and all("approved by <@UALICE>" in u["text"] for u in on_approval)
    assert all(b["type"] != "actions" for u in on_approval for b in u["blocks"])  # buttons gone

    applied = audit.rows(incident_id=INCIDENT, kind="action_applied")
    assert [(r.idempotency_key, r.actor) for r in applied] == [(req.id, "slack:UALICE")]
    assert image_of(store) == GOOD_IMAGE
    assert runner.waiting_for(INCIDENT) is None

    # a click on the old message later still runs nothing
    press("UALICE")
    fake.wait_for(lambda: len(fake.of("chat.postEphemeral")) == 3)
    assert len(audit.rows(incident_id=INCIDENT, kind="action_applied")) == 1
    assert len(fake.posted) == len(posts) + 2  # nothing more was posted
    assert audit.verify().ok

    # 6. no Secret value (nor the literal password in predictor's env) reached Slack, though the
    #    stand-in holds them and the env var was shown (masked) in the diff
    sent = fake.all_text()
    assert "DB_PASSWORD" in sent
    creds = store.get("secrets", NAMESPACE, "feature-store-credentials")["data"]["password"]
    assert base64.b64decode(creds).decode() == FEATURE_STORE_PASSWORD
    for secret in (FEATURE_STORE_PASSWORD, CACHE_PASSWORD, ENV_PASSWORD):
        assert secret not in sent
        assert base64.b64encode(secret.encode()).decode() not in sent
