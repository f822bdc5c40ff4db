"""`devops-agent watch` (the change journal in the foreground) and `devops-agent changes`."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Any

import typer
from rich.markup import escape

from agent.cli import app
from agent.cli.common import console, err_console, fail, print_json, settings
from agent.deps import build_tool_deps
from agent.settings import Settings
from tools.errors import ToolError
from tools.journal.model import Change
from tools.journal.shape import body_lines, headline
from tools.redact import redact_obj, redact_text

_STYLE = {"+": "green", "-": "red", "~": "yellow"}


def start_watcher(cfg: Settings, tool_deps: Any, **kw: Any) -> Any:
    """A started :class:`tools.journal.Watcher` writing to the settings' journal file."""
    from tools.journal import SqliteJournal, Watcher

    store = SqliteJournal(cfg.effective_journal_path)
    watcher = Watcher(
        tool_deps,
        store,
        namespace=cfg.journal_namespace,
        context=cfg.kube_context,
        retention=timedelta(days=cfg.journal_retention_days),
        max_changes=cfg.journal_max_changes,
        **kw,
    )
    watcher.start()
    return watcher


def _print_change(c: Change) -> None:
    console.print(escape(redact_text(headline(c))), highlight=False)
    for line in body_lines(c):
        text = escape(redact_text(line))
        style = _STYLE.get(line.strip()[:1])
        console.print(f"[{style}]{text}[/]" if style else text, highlight=False)


@app.command("watch")
def watch(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Record only this namespace (default DEVOPS_AGENT_JOURNAL_NAMESPACE)."
    ),
) -> None:
    """Run the change journal in the foreground: record every change of the watched kinds (Ctrl-C stops)."""
    cfg = settings()
    if namespace:
        cfg = cfg.model_copy(update={"journal_namespace": namespace})
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    watcher = start_watcher(
        cfg,
        build_tool_deps(cfg),
        on_change=_print_change,
        on_status=lambda m: err_console.print(f"[dim]journal:[/] {escape(m)}", highlight=False),
    )
    err_console.print(
        f"recording changes of {cfg.journal_namespace or 'every namespace'} into {cfg.effective_journal_path} "
        "(Ctrl-C stops)",
        highlight=False,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        watcher.store.close()
        signal.signal(signal.SIGTERM, previous)
        err_console.print("journal stopped; the bookmark is kept, the next start resumes from it")


@app.command("changes")
def changes(
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="Namespace (default: every one)."),
    since: str = typer.Option("1h", "--since", help="A duration (30m, 2h, 1d) or an RFC 3339 time."),
    obj: str | None = typer.Option(None, "--object", help="Only this object, as kind/name (deploy/api)."),
    as_json: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
) -> None:
    """What changed, field by field, with who and when (the journal, else what the cluster keeps)."""
    from tools.journal import changes_for, parse_object, parse_since

    cfg = settings()
    deps = build_tool_deps(cfg)
    try:
        start = parse_since(since)
        objects = [parse_object(obj)] if obj else None
        found = changes_for(deps, namespace, start, objects, context=cfg.kube_context)
    except ToolError as exc:
        fail(str(exc))
    finally:
        deps_close = getattr(deps, "close", None)
        if callable(deps_close):
            deps_close()
    if as_json:
        print_json(redact_obj([c.as_dict() for c in found]))
        return
    if not found:
        console.print(f"no changes to {namespace or 'any namespace'} since {start:%Y-%m-%dT%H:%M:%SZ}")
        return
    for c in sorted(found, key=lambda c: (c.time, c.id or 0), reverse=True):
        _print_change(c)
