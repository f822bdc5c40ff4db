"""The log store: kubectl-logs reads, label APIs, bounds and thread safety."""

from __future__ import annotations

import threading

import pytest

from sandbox.logs import LabelMatcher, LogStore

SECOND = 1_000_000_000
NOW = 1_700_000_100 * SECOND
POD = {"namespace": "mp", "pod": "api-1", "container": "api", "app": "api"}
SIDECAR = {**POD, "container": "proxy"}


def store_with_restarts() -> LogStore:
    """Instance 0 wrote a0..a2 and crashed; instance 1 (current) wrote b0..b1; a sidecar wrote s0."""
    store = LogStore(clock=lambda: NOW)
    for i in range(3):
        store.append(POD, f"a{i}", NOW - (50 - i) * SECOND, restart=0)
    for i in range(2):
        store.append(POD, f"b{i}", NOW - (10 - i) * SECOND, restart=1)
    store.append(SIDECAR, "s0", NOW - 5 * SECOND)
    return store


def test_pod_log_returns_the_current_instance() -> None:
    assert store_with_restarts().pod_log("mp", "api-1", "api") == ["b0", "b1"]


def test_pod_log_previous_returns_the_instance_before() -> None:
    assert store_with_restarts().pod_log("mp", "api-1", "api", previous=True) == ["a0", "a1", "a2"]


def test_pod_log_current_restart_from_the_caller_wins() -> None:
    # the kubelet knows instance 2 started but has not written yet: current is empty, previous is b*
    store = store_with_restarts()
    assert store.pod_log("mp", "api-1", "api", current_restart=2) == []
    assert store.pod_log("mp", "api-1", "api", previous=True, current_restart=2) == ["b0", "b1"]


def test_pod_log_tail_and_since() -> None:
    store = store_with_restarts()
    assert store.pod_log("mp", "api-1", "api", previous=True, tail_lines=2) == ["a1", "a2"]
    assert store.pod_log("mp", "api-1", "api", tail_lines=0) == []
    assert store.pod_log("mp", "api-1", "api", previous=True, since_seconds=49) == ["a1", "a2"]


def test_pod_log_without_container_merges_containers_in_time_order() -> None:
    # each container's own current instance: api's restart 1, the sidecar's restart 0
    assert store_with_restarts().pod_log("mp", "api-1") == ["b0", "b1", "s0"]
    store = LogStore(clock=lambda: NOW)
    store.append(POD, "x1", NOW - 3 * SECOND)
    store.append(SIDECAR, "y1", NOW - 2 * SECOND)
    store.append(POD, "x2", NOW - 1 * SECOND)
    assert store.pod_log("mp", "api-1") == ["x1", "y1", "x2"]


def test_pod_log_timestamps_prefix() -> None:
    store = LogStore(clock=lambda: NOW)
    store.append(POD, "hello", 1_700_000_000 * SECOND + 5)
    assert store.pod_log("mp", "api-1", "api", timestamps=True) == ["2023-11-14T22:13:20.000000005Z hello"]


def test_pod_log_of_an_unknown_pod_is_empty() -> None:
    assert store_with_restarts().pod_log("mp", "nope", "api") == []


def test_out_of_order_lines_are_kept_in_time_order() -> None:
    store = LogStore()
    for ts, line in [(3, "c"), (1, "a"), (2, "b"), (4, "d")]:
        store.append(POD, line, ts)
    [(_, entries)] = list(store.select(0, 10))
    assert entries == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_each_stream_is_a_ring_buffer() -> None:
    store = LogStore(max_lines_per_stream=3)
    for i in range(10):
        store.append(POD, f"l{i}", i)
    assert [line for _, entries in store.select(0, 100) for _, line in entries] == ["l7", "l8", "l9"]
    assert len(store) == 3


def test_lines_older_than_max_age_are_dropped() -> None:
    store = LogStore(max_age_s=10)
    store.append(POD, "old", NOW - 20 * SECOND)
    store.append(POD, "new", NOW)
    assert [line for _, entries in store.select(0, NOW + 1) for _, line in entries] == ["new"]


def test_global_cap_evicts_the_oldest_lines_first() -> None:
    store = LogStore(max_total_lines=4)
    for i in range(3):
        store.append(POD, f"p{i}", 10 + i)
    for i in range(3):
        store.append(SIDECAR, f"s{i}", 20 + i)
    kept = sorted(ts for _, entries in store.select(0, 100) for ts, _ in entries)
    assert kept == [12, 20, 21, 22]
    assert len(store) == 4


def test_empty_labels_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one label"):
        LogStore().append({}, "line")


def test_concurrent_appends_lose_nothing() -> None:
    store = LogStore(max_lines_per_stream=100_000)

    def writer(n: int) -> None:
        for i in range(2000):
            store.append({**POD, "pod": f"p{n % 2}"}, f"{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 8000
    assert store.stream_count() == 2


def test_label_apis_respect_matchers_and_time_range() -> None:
    store = LogStore()
    store.append({"app": "api", "pod": "api-1"}, "x", 100)
    store.append({"app": "db", "pod": "db-0", "tier": "data"}, "y", 200)
    assert store.label_names() == ["app", "pod", "tier"]
    assert store.label_names(150, 300) == ["app", "pod", "tier"]
    assert store.label_names(0, 150) == ["app", "pod"]
    assert store.label_values("pod") == ["api-1", "db-0"]
    assert store.label_values("pod", matchers=[LabelMatcher("app", "=", "db")]) == ["db-0"]
    assert store.series([LabelMatcher("pod", "=~", "api-.*")]) == [{"app": "api", "pod": "api-1"}]
    assert store.series([LabelMatcher("tier", "=", "")]) == [{"app": "api", "pod": "api-1"}]


def test_invalid_matcher_regex_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        LabelMatcher("app", "=~", "(")
