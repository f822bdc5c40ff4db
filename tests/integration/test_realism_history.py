"""The seeded cluster looks like one that has run for days: the agent's own tools see no fresh changes
at start-up, and exactly the change a fault makes once one is injected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tools_world import NS, World, make_world

from sandbox.history import Timeline, backdate
from sandbox.kube.store import Store
from sandbox.platform import seed
from sandbox.sim.objects import REVISION, owner_uid, parse_iso
from tools.registry import default_registry

REGISTRY = default_registry()


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _findings(world: World, *kinds: str) -> list[dict]:
    result = REGISTRY.get("triage").invoke(world.deps, {"namespace": NS})
    return [f for f in (result.data or {}).get("findings", []) if f["kind"] in kinds]


def test_seeded_objects_are_days_old_with_a_backdated_writer() -> None:
    store = Store()
    seed(store, now=2_000_000_000.0)
    week_before = 2_000_000_000.0 - 5 * 86_400
    for kind in ("configmaps", "secrets", "services", "deployments", "replicasets", "nodes"):
        for obj in store.list(kind):
            meta = obj["metadata"]
            assert (parse_iso(meta["creationTimestamp"]) or 0) < week_before, (kind, meta["name"])
            (entry,) = meta["managedFields"]
            assert (parse_iso(entry["time"]) or 0) < week_before, (kind, meta["name"])


def test_each_deployment_starts_from_its_seeded_current_replica_set() -> None:
    store = Store()
    seed(store)
    for dep in store.list("deployments", NS):
        owned = [rs for rs in store.list("replicasets", NS) if owner_uid(rs) == dep["metadata"]["uid"]]
        revisions = {rs["metadata"]["annotations"][REVISION]: rs for rs in owned}
        assert set(revisions) == {"1", "2"}
        assert revisions["2"]["spec"]["replicas"] == dep["spec"]["replicas"]
        assert (
            revisions["1"]["metadata"]["creationTimestamp"] < revisions["2"]["metadata"]["creationTimestamp"]
        )


def test_the_timeline_puts_staging_releases_first() -> None:
    past = Timeline(1_000_000_000.0)
    assert past.released("market-predictor-staging") < past.released(NS) < past.now
    node = backdate("nodes", {"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready"}]}}, past)
    assert node["status"]["conditions"][0]["lastTransitionTime"] == node["metadata"]["creationTimestamp"]


def test_start_up_shows_no_recent_rollout_or_config_change(world: World) -> None:
    changes = REGISTRY.get("recent_changes").invoke(world.deps, {"namespace": NS, "minutes": 60})
    assert changes.status == "no_data", changes.text
    assert _findings(world, "recent_rollout", "config_changed") == []
    events = world.store.list("events", NS)
    assert not [e for e in events if e["reason"] == "ScalingReplicaSet"]


def test_a_bad_deploy_is_the_only_recent_rollout(world: World) -> None:
    world.inject("bad-deploy")
    world.run(20)
    rollouts = _findings(world, "recent_rollout")
    assert [f["data"]["deployment"] for f in rollouts] == ["predictor"]
    assert rollouts[0]["data"]["revision"] == 3
    assert _findings(world, "config_changed") == []


def test_a_changed_configmap_shows_as_config_changed(world: World) -> None:
    fault = world.inject("crashloop-config")
    world.run(20)
    changed = _findings(world, "config_changed")
    assert {f["data"]["configmap"] for f in changed} == {fault.root_cause["name"]}
    written = changed[0]["data"]["changed_at"]
    when = datetime.fromisoformat(written.replace("Z", "+00:00"))
    assert datetime.now(UTC) - when < timedelta(minutes=5)
