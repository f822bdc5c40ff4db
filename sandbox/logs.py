"""The sandbox's log store: every container line the simulation writes, kept in memory.

Writers (the kubelet simulation, the traffic engine) call :meth:`LogStore.append`; readers are the
Kubernetes API stand-in (``kubectl logs`` → :meth:`LogStore.pod_log`) and the Loki API stand-in
(:meth:`LogStore.select`, :meth:`LogStore.label_names`, :meth:`LogStore.label_values`,
:meth:`LogStore.series`).

A *stream* is one unique label set, as in Loki. Each stream is a ring buffer (newest
``max_lines_per_stream`` lines, none older than ``max_age_s`` behind the newest line in the store);
the whole store holds at most ``max_total_lines``, evicting the oldest lines first.

Thread-safe: one lock guards everything; readers get copies.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

Labels = dict[str, str]
MatchOp = Literal["=", "!=", "=~", "!~"]
StreamKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LabelMatcher:
    """One label matcher of a stream selector, e.g. ``app=~"api-.*"``.

    Regexes are anchored at both ends, as in Loki and Prometheus. A missing label matches as the
    empty string (so ``foo=""`` selects streams without ``foo``).
    """

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                compiled = compile_go_regex(self.value)
            except re.error as exc:
                raise ValueError(
                    f"invalid regex {self.value!r} in matcher for label {self.name!r}: {exc}"
                ) from exc
            object.__setattr__(self, "_regex", compiled)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfies this matcher."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{_quote(self.value)}"


_GO_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go (RE2) regex with Python's ``re``: ``(?<name>...)`` becomes ``(?P<name>...)``."""
    return re.compile(_GO_NAMED_GROUP.sub("(?P<", pattern))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def matches_all(labels: Mapping[str, str], matchers: Iterable[LabelMatcher]) -> bool:
    """Whether ``labels`` satisfies every matcher."""
    return all(m.matches(labels) for m in matchers)


@dataclass
class _Stream:
    labels: Labels
    # (ts_ns, line, restart), ordered by ts_ns.
    entries: deque[tuple[int, str, int]]


class LogStore:
    """Bounded, thread-safe in-memory store of log streams."""

    def __init__(
        self,
        *,
        max_lines_per_stream: int = 5000,
        max_age_s: float = 3600.0,
        max_total_lines: int = 250_000,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._lock = threading.RLock()
        self._streams: dict[StreamKey, _Stream] = {}
        self._max_per_stream = max_lines_per_stream
        self._max_age_ns = int(max_age_s * 1e9)
        self._max_total = max_total_lines
        self._clock = clock
        self._total = 0
        self._newest_ns = 0
        self._appends = 0

    # ------------------------------------------------------------------ writing
    def append(
        self, labels: Mapping[str, str], line: str, ts_ns: int | None = None, *, restart: int = 0
    ) -> None:
        """Add one line to the stream named by ``labels``.

        ``ts_ns`` defaults to now; ``restart`` is the container's restart count when the line was
        written (``kubectl logs --previous`` reads the lines of the instance before the current one).
        Lines may arrive slightly out of order; they are kept ordered by timestamp.
        """
        if not labels:
            raise ValueError("a log line needs at least one label (e.g. namespace, pod); got none")
        ts = self._clock() if ts_ns is None else int(ts_ns)
        key: StreamKey = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        with self._lock:
            stream = self._streams.get(key)
            if stream is None:
                stream = _Stream(dict(key), deque())
                self._streams[key] = stream
            self._insert(stream, (ts, line, restart))
            self._total += 1
            self._newest_ns = max(self._newest_ns, ts)
            self._evict_stream(stream)
            self._appends += 1
            if self._total > self._max_total or self._appends % 1000 == 0:
                self._evict_global()

    @staticmethod
    def _insert(stream: _Stream, entry: tuple[int, str, int]) -> None:
        entries = stream.entries
        if not entries or entries[-1][0] <= entry[0]:
            entries.append(entry)
            return
        pos = bisect.bisect_right(entries, entry[0], key=lambda e: e[0])
        entries.insert(pos, entry)

    def _evict_stream(self, stream: _Stream) -> None:
        entries = stream.entries
        cutoff = self._newest_ns - self._max_age_ns
        while entries and (len(entries) > self._max_per_stream or entries[0][0] < cutoff):
            entries.popleft()
            self._total -= 1

    def _evict_global(self) -> None:
        for stream in self._streams.values():
            self._evict_stream(stream)
        while self._total > self._max_total:
            oldest = min((s for s in self._streams.values() if s.entries), key=lambda s: s.entries[0][0])
            oldest.entries.popleft()
            self._total -= 1
        for key in [k for k, s in self._streams.items() if not s.entries]:
            del self._streams[key]

    # ------------------------------------------------------------------ reading
    def select(
        self,
        start_ns: int,
        end_ns: int,
        matchers: Iterable[LabelMatcher] = (),
    ) -> Iterator[tuple[Labels, list[tuple[int, str]]]]:
        """Yield ``(labels, [(ts_ns, line), ...])`` per stream matching ``matchers``.

        Entries are in ascending time order with ``start_ns <= ts_ns < end_ns`` (Loki's half-open
        interval); streams with no entry in the range are skipped. Data is copied under the lock,
        so callers may take their time.
        """
        wanted = list(matchers)
        with self._lock:
            picked = [s for s in self._streams.values() if matches_all(s.labels, wanted)]
            copies = [(dict(s.labels), _slice(s.entries, start_ns, end_ns)) for s in picked]
        for labels, entries in copies:
            if entries:
                yield labels, entries

    def pod_log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        since_seconds: int | None = None,
        tail_lines: int | None = None,
        *,
        current_restart: int | None = None,
        timestamps: bool = False,
    ) -> list[str]:
        """The lines ``kubectl logs`` would print for one pod's container, oldest first.

        ``container=None`` merges every container of the pod. ``previous`` returns the lines of the
        instance before the current one (restart count ``current - 1``); the current restart count
        is ``current_restart`` when the caller knows it (the kubelet does), else the highest seen
        for that container.
        ``timestamps`` prefixes each line with its RFC3339Nano time, like ``kubectl logs
        --timestamps``.
        """
        by_container: dict[str, list[tuple[int, str, int]]] = {}
        with self._lock:
            for s in self._streams.values():
                labels = s.labels
                if labels.get("namespace") != namespace or labels.get("pod") != pod:
                    continue
                if container is not None and labels.get("container") != container:
                    continue
                by_container.setdefault(labels.get("container", ""), []).extend(s.entries)
        picked: list[tuple[int, str, int]] = []
        for entries in by_container.values():
            if not entries:
                continue
            current = current_restart if current_restart is not None else max(e[2] for e in entries)
            wanted = current - 1 if previous else current
            picked.extend(e for e in entries if e[2] == wanted)
        picked.sort(key=lambda e: e[0])
        if since_seconds is not None:
            cutoff = self._clock() - since_seconds * 1_000_000_000
            picked = [e for e in picked if e[0] >= cutoff]
        if tail_lines is not None:
            picked = picked[-tail_lines:] if tail_lines > 0 else []
        if timestamps:
            return [f"{format_rfc3339_nano(e[0])} {e[1]}" for e in picked]
        return [e[1] for e in picked]

    def label_names(self, start_ns: int | None = None, end_ns: int | None = None) -> list[str]:
        """Sorted label names of streams with lines in the range (all streams when no range)."""
        names = {name for labels in self._labels_in(start_ns, end_ns, ()) for name in labels}
        return sorted(names)

    def label_values(
        self,
        name: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        matchers: Iterable[LabelMatcher] = (),
    ) -> list[str]:
        """Sorted values of label ``name`` over streams matching ``matchers`` in the range."""
        values = {labels[name] for labels in self._labels_in(start_ns, end_ns, matchers) if name in labels}
        return sorted(values)

    def series(
        self,
        matchers: Iterable[LabelMatcher],
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> list[Labels]:
        """Label sets of the streams matching every matcher, with lines in the range."""
        found = self._labels_in(start_ns, end_ns, matchers)
        return sorted(found, key=lambda labels: sorted(labels.items()))

    def _labels_in(
        self, start_ns: int | None, end_ns: int | None, matchers: Iterable[LabelMatcher]
    ) -> list[Labels]:
        wanted = list(matchers)
        lo = start_ns if start_ns is not None else -(2**63)
        hi = end_ns if end_ns is not None else 2**63
        with self._lock:
            return [
                dict(s.labels)
                for s in self._streams.values()
                if matches_all(s.labels, wanted) and _overlaps(s.entries, lo, hi)
            ]

    def __len__(self) -> int:
        with self._lock:
            return self._total

    def stream_count(self) -> int:
        """Number of streams currently held."""
        with self._lock:
            return len(self._streams)


def _overlaps(entries: deque[tuple[int, str, int]], start_ns: int, end_ns: int) -> bool:
    if not entries:
        return False
    return entries[0][0] < end_ns and entries[-1][0] >= start_ns


def _slice(entries: deque[tuple[int, str, int]], start_ns: int, end_ns: int) -> list[tuple[int, str]]:
    if not _overlaps(entries, start_ns, end_ns):
        return []
    return [(ts, line) for ts, line, _ in entries if start_ns <= ts < end_ns]


def format_rfc3339_nano(ts_ns: int) -> str:
    """``2024-05-01T12:00:00.123456789Z`` for a Unix time in nanoseconds (UTC)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{stamp}.{nanos:09d}Z"
