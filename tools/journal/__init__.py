"""The change journal: every version of the objects an outage usually starts with, field-level diffs,
who made them and when (``devops-agent watch``, and ``serve`` in the background).

The interface diagnosis and remediation use::

    from tools.journal import Change, FieldChange, changes_for, inverse_patch

    changes = changes_for(deps, "shop", since, objects=[("Service", "api")])
    for c in changes:               # oldest first
        c.kind, c.namespace, c.name, c.time, c.actor, c.source   # source: journal | managedFields |
        c.diff                      #   last-applied | replicaset; diff: list[FieldChange]
        c.before, c.after           # normalized snapshots (a Secret: key names and hashes only)
    patch = inverse_patch(c.diff)   # JSON Patch that turns c.after back into c.before

The store is ``deps.journal()`` (a :class:`JournalStore`, None when no journal exists).
"""

from tools.journal.diff import field_diff, inverse_patch
from tools.journal.model import Change, FieldChange
from tools.journal.normalize import normalize
from tools.journal.query import changes_for, parse_object, parse_since
from tools.journal.store import JournalStore, SqliteJournal
from tools.journal.watcher import WATCHED_KINDS, Watcher

__all__ = [
    "WATCHED_KINDS",
    "Change",
    "FieldChange",
    "JournalStore",
    "SqliteJournal",
    "Watcher",
    "changes_for",
    "field_diff",
    "inverse_patch",
    "normalize",
    "parse_object",
    "parse_since",
]
