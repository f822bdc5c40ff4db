"""``changes_for``: the changes of a namespace (or of some objects) since a time, from the journal
and, for the time before the journal started, from what the cluster keeps (``fallback``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tools.base import ToolDeps
from tools.errors import ToolError
from tools.journal.fallback import fallback_changes
from tools.journal.model import Change
from tools.journal.store import JournalStore
from tools.journal.watcher import WATCHED_KINDS
from tools.kubernetes.client import Kube, resource_for
from tools.kubernetes.shape import parse_time

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``"30m"``/``"2h"``/``"1d"`` ago, or an RFC 3339 time; raises ToolError naming the bad value."""
    now = now or datetime.now(UTC)
    m = _DURATION.match(value or "")
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    when = parse_time(value.strip()) if value else None
    if when is None:
        raise ToolError(
            f"cannot read since={value!r}: give a duration such as 30m, 2h or 1d, "
            "or an RFC 3339 time such as 2026-01-01T12:00:00Z"
        )
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_object(value: str) -> tuple[str, str]:
    """``"deploy/api"`` -> ``("Deployment", "api")`` (kubectl's short names work)."""
    kind, sep, name = value.strip().partition("/")
    if not sep or not kind or not name:
        raise ToolError(
            f"cannot read object={value!r}: write it as kind/name, e.g. deployment/api or svc/api"
        )
    return resource_for(kind).kind, name


def journal_of(deps: ToolDeps) -> JournalStore | None:
    """The journal store the deps carry, or None when no journal is configured."""
    opener = getattr(deps, "journal", None)
    return opener() if callable(opener) else None


def changes_for(
    deps: ToolDeps,
    namespace: str | None,
    since: datetime,
    objects: list[tuple[str, str]] | None = None,
    *,
    until: datetime | None = None,
    context: str | None = None,
    fallback: bool = True,
) -> list[Change]:
    """Every change in ``[since, until)``, oldest first.

    ``namespace`` None = all namespaces (cluster-scoped Nodes are always included); ``objects``
    keeps only these ``(kind, name)`` pairs (kinds as in ``resource_for``: ``deploy``, ``svc`` ...).
    Journal records come first-hand (``source="journal"``); for the time before the journal started,
    or with no journal, records come from ReplicaSet history, ``last-applied-configuration`` and
    ``managedFields`` (their ``source`` says which). Raises ToolError only when neither answers.
    """
    wanted = [(resource_for(k).kind, n) for k, n in objects] if objects else None
    store = journal_of(deps)
    out: list[Change] = store.query(namespace, since, wanted, until) if store is not None else []
    covered = store.covered_since() if store is not None else None
    if fallback and (covered is None or since < covered):
        limit = min(t for t in (covered, until) if t is not None) if (covered or until) else None
        kinds = tuple(k for k in WATCHED_KINDS if wanted is None or k in {w[0] for w in wanted})
        try:
            extra = fallback_changes(Kube(deps, context), kinds, namespace, since, limit)
        except ToolError:
            if store is None:
                raise
            extra = []
        if wanted is not None:
            keep = {(k.lower(), n) for k, n in wanted}
            extra = [c for c in extra if (c.kind.lower(), c.name) in keep]
        out += extra
    return sorted(out, key=lambda c: (c.time, c.id or 0))
