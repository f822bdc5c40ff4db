"""The change journal survives restarts: it resumes from its bookmark, records a change made while
it was down exactly once, relists after 410 Gone, and records deletions it missed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from journal_helpers import Journal, wait_for
from kube_fixtures import NS, World, fake_logs, seed, world_fixture  # noqa: F401

import sandbox.kube.watch as hub_module
from sandbox.kube import start_kube_api, write_kubeconfig
from sandbox.kube.store import Store
from tools.kubernetes.client import Kube

pytestmark = pytest.mark.timeout(60)


def _service(name: str, target_port: int) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"app": "api"},
            "ports": [{"name": "http", "port": 80, "targetPort": target_port}],
        },
    }


def test_a_change_while_stopped_is_recorded_once_after_resuming_from_the_bookmark(
    world: World, tmp_path: Path
) -> None:
    journal = Journal(world.kubeconfig, tmp_path / "journal.sqlite")
    kube = Kube(journal.deps, None)
    journal.start()
    kube.request("POST", f"/api/v1/namespaces/{NS}/services", body=_service("web", 8080))
    assert wait_for(lambda: journal.changes_of("Service", "web"))
    journal.stop()
    bookmark = journal.store.bookmark(journal.watcher.key("Service"))  # type: ignore[union-attr]
    assert bookmark

    kube.patch(
        "service",
        "web",
        NS,
        {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090}]}},
        dry_run=False,
    )
    journal.status.clear()
    journal.start()  # a restart: same file, a new watcher
    assert wait_for(lambda: len(journal.changes_of("Service", "web")) == 2)
    journal.stop()
    assert not [s for s in journal.status if s.startswith("Service: listed")], (
        journal.status
    )  # resumed, no relist

    journal.start()  # and once more: nothing new to record
    journal.settle(NS)
    journal.stop()
    stored = journal.store.query(NS, datetime.now(UTC) - timedelta(minutes=5), [("Service", "web")])
    assert [c.event for c in stored] == ["added", "modified"]
    assert [d.as_dict() for d in stored[1].diff] == [
        {"path": "/spec/ports/0/targetPort", "op": "replace", "old": 8080, "new": 9090}
    ]
    assert stored[1].actor == "devops-agent"  # the writer's fieldManager, as managedFields recorded it


@pytest.fixture
def small_ring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in whose watch history holds 3 changes, so a journal that was down gets 410 Gone."""
    monkeypatch.setattr(hub_module, "HISTORY", 3)
    store = Store()
    seed(store)
    server = start_kube_api(store, log_provider=fake_logs)
    try:
        yield write_kubeconfig(tmp_path / "kubeconfig", server.url)
    finally:
        server.shutdown()


def test_after_410_gone_a_relist_records_what_changed_and_what_vanished(
    small_ring: Path, tmp_path: Path
) -> None:
    journal = Journal(small_ring, tmp_path / "journal.sqlite")
    kube = Kube(journal.deps, None)
    journal.start()
    assert journal.recorded == []  # what existed before the first start is a baseline, not a change
    journal.settle(NS)
    journal.stop()

    kube.patch("configmap", "api-config", NS, {"data": {"A": "2"}}, dry_run=False)
    for i in range(4):  # push the bookmark out of the server's history
        kube.patch("configmap", "api-config", NS, {"metadata": {"labels": {"n": str(i)}}}, dry_run=False)
    kube.delete("secret", "api-secret", NS, dry_run=False)

    journal.start()
    journal.settle(NS)
    journal.stop()
    assert any("410" in s for s in journal.status), journal.status
    edits = journal.changes_of("ConfigMap", "api-config")
    assert len(edits) == 1  # the relist compares with the stored version: one change, the net one
    assert {d.path: (d.old, d.new) for d in edits[0].diff} == {
        "/data/A": ("1", "2"),
        "/metadata/labels": (None, {"n": "3"}),
    }
    assert edits[0].actor == "devops-agent"
    assert [c.event for c in journal.changes_of("Secret", "api-secret")] == ["deleted"]

    journal.start()  # the relist set a fresh bookmark: nothing is recorded twice
    journal.settle(NS)
    journal.stop()
    assert len(journal.changes_of("ConfigMap", "api-config")) == 1
    assert len(journal.changes_of("Secret", "api-secret")) == 1
