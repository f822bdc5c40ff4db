"""`devops-agent knowledge search|stats|add-runbook|reindex|export|import` and `incidents report`.

The bridge between settings and ``knowledge/``: it builds the embedder, the memory and the outcome
statistics from :class:`agent.settings.Settings`; ``knowledge`` itself never reads settings.
The memory (Chroma, the embedders and their numeric stack) is imported only by the commands that
open it, so `incidents list` and every `--help` stay fast.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from agent.cli import app
from agent.cli.common import console, fail, print_json, settings
from agent.cli.incidents_cmd import incidents_app
from agent.settings import Settings
from knowledge.learning import OutcomeStats
from knowledge.postmortem import render_postmortem
from knowledge.records import format_duration
from knowledge.runbooks import Runbook, RunbookError, load_runbooks, parse_runbook

if TYPE_CHECKING:
    from knowledge.memory import IncidentMemory

OUTCOMES_FILE = "outcomes.sqlite"  # the file agent/deps.py opens OutcomeStats on

knowledge_app = typer.Typer(
    help="Incident memory, runbooks and what the agent has learned.", no_args_is_help=True
)
app.add_typer(knowledge_app, name="knowledge")


def _runbooks_dir(s: Settings) -> Path:
    """Where `add-runbook` puts runbooks: DEVOPS_AGENT_RUNBOOKS_DIR, else DATA_DIR/runbooks."""
    return s.runbooks_dir or (s.data_dir / "runbooks")


def _memory(s: Settings, *, check_embedder: bool = True) -> IncidentMemory:
    from knowledge.embeddings import EmbeddingError, make_embedder
    from knowledge.memory import EmbedderMismatchError, IncidentMemory, MemoryStoreError

    try:
        embedder = make_embedder(
            s.embedding,
            model=s.embedding_model,
            base_url=s.effective_llm_base_url,
            api_key=s.effective_llm_api_key,
        )
        return IncidentMemory.open(s.data_dir, s.chroma_url, embedder, check_embedder=check_embedder)
    except (EmbedderMismatchError, EmbeddingError, MemoryStoreError) as exc:
        fail(str(exc))
    except Exception as exc:  # e.g. an unreachable Chroma server
        fail(f"cannot open memory ({s.chroma_url or s.data_dir / 'memory'}): {type(exc).__name__}: {exc}")


def _runbooks(s: Settings) -> list[Runbook]:
    try:
        return load_runbooks([_runbooks_dir(s)])
    except RunbookError as exc:
        fail(str(exc))


@knowledge_app.command("search")
def search(
    text: str = typer.Argument(..., help="What you see, e.g. 'predictor OOMKilled after deploy'."),
    service: str | None = typer.Option(None, "--service", "-s", help="Boost incidents on this service."),
    alertname: str | None = typer.Option(None, "--alert", "-a", help="Boost incidents with this alert name."),
    fault_class: str | None = typer.Option(
        None, "--fault-class", help="Boost incidents of this fault class."
    ),
    k: int = typer.Option(3, "--k", "-k", min=1, max=50, help="How many incidents."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find similar past incidents and the runbooks that fit."""
    s = settings()
    memory = _memory(s)
    memory.index_runbooks(_runbooks(s))  # re-embeds only runbooks that changed
    past = memory.recall(text, service=service, alertname=alertname, fault_class=fault_class, k=k)
    runbooks = memory.search_runbooks(text, k=3)
    if as_json:
        print_json(
            {
                "incidents": [{**p.model_dump(mode="json", exclude={"record"}), "id": p.id} for p in past],
                "runbooks": [r.model_dump(exclude={"document"}) for r in runbooks],
            }
        )
        return
    if not past:
        console.print(f"No similar incident in memory ({memory.count()} stored).")
    for p in past:
        console.print(p.compact(), highlight=False)
    if runbooks:
        console.print("\n[bold]Runbooks[/]")
        for r in runbooks:
            console.print(
                f"  {r.id} ({r.fault_class}, similarity {r.similarity:.2f}): {r.title}", highlight=False
            )


@knowledge_app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """How much the agent remembers, by fault class and service, and what it has learned."""
    s = settings()
    st = _memory(s).stats()
    learned = OutcomeStats(s.path(OUTCOMES_FILE)).totals()
    if as_json:
        print_json({**st.model_dump(mode="json"), "learning": learned})
        return
    console.print(f"memory: {st.location} (embedder {st.embedder})", highlight=False)
    console.print(f"incidents: {st.incidents}   runbooks indexed: {st.runbooks}")
    if st.oldest and st.newest:
        console.print(f"span: {st.oldest:%Y-%m-%d} .. {st.newest:%Y-%m-%d}")
    table = Table("fault class", "incidents")
    for name, n in st.by_fault_class.items():
        table.add_row(name, str(n))
    if st.by_fault_class:
        console.print(table)
    console.print(
        f"learning: {learned['signatures']} symptom signatures, {learned['fixed']} verified fixes, "
        f"{learned['not_fixed']} actions that did not fix"
    )


@knowledge_app.command("add-runbook")
def add_runbook(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A runbook Markdown file."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an added runbook with the same file name."),
) -> None:
    """Validate a runbook, copy it next to the others and index it for retrieval."""
    s = settings()
    try:
        rb = parse_runbook(file.read_text(encoding="utf-8"), str(file))
    except RunbookError as exc:
        fail(str(exc))
    if rb.draft:
        fail(
            f"{file} is a draft (draft: true) and would never be loaded: review it, remove the flag, add it again"
        )
    dest_dir = _runbooks_dir(s)
    dest = dest_dir / f"{rb.id}.md"
    if dest.exists() and not force:
        fail(f"{dest} already exists; pass --force to replace it")
    packaged = {r.id for r in load_runbooks()}
    dest_dir.mkdir(parents=True, exist_ok=True)
    previous = dest.read_bytes() if dest.exists() else None
    shutil.copyfile(file, dest)
    try:
        runbooks = load_runbooks([dest_dir])  # the whole set with the new one in place (duplicate ids)
    except RunbookError as exc:
        if previous is None:
            dest.unlink()
        else:
            dest.write_bytes(previous)
        fail(f"{exc}; {file} was not added")
    _memory(s).index_runbooks(runbooks)
    note = " (replaces the packaged runbook with this id)" if rb.id in packaged else ""
    console.print(f"added runbook {rb.id}{note}: {dest}; {len(runbooks)} runbooks indexed", highlight=False)


@knowledge_app.command("reindex")
def reindex() -> None:
    """Re-embed every incident and runbook with the configured embedder (after changing it)."""
    s = settings()
    memory = _memory(s, check_embedder=False)
    incidents, _ = memory.reindex()
    runbooks = memory.index_runbooks(_runbooks(s))
    console.print(
        f"reindexed {incidents} incidents and {runbooks} runbooks with {memory.embedder.identity}",
        highlight=False,
    )


@knowledge_app.command("export")
def export(file: Path = typer.Argument(..., dir_okay=False, help="JSON lines file to write.")) -> None:
    """Write every incident record to a JSON lines file (backups, moving memory between machines)."""
    n = _memory(settings()).export_jsonl(file)
    console.print(f"exported {n} incidents to {file}", highlight=False)


@knowledge_app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file written by export."),
) -> None:
    """Load incident records from a JSON lines export (same ids are replaced)."""
    from knowledge.memory import MemoryStoreError

    try:
        n = _memory(settings()).import_jsonl(file)
    except MemoryStoreError as exc:
        fail(str(exc))
    console.print(f"imported {n} incidents from {file}", highlight=False)


@incidents_app.command("report")
def report(
    incident_id: str = typer.Argument(..., help="Incident id (see `devops-agent incidents list`)."),
    out: Path | None = typer.Option(None, "--out", "-o", dir_okay=False, help="Write the Markdown here."),
) -> None:
    """The postmortem of a finished incident, as Markdown."""
    record = _memory(settings()).get(incident_id)
    if record is None:
        fail(
            f"incident {incident_id!r} is not in memory: it is written when a run finishes; "
            "check the id with `devops-agent incidents list`"
        )
    markdown = render_postmortem(record)
    if out is None:
        typer.echo(markdown, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown, encoding="utf-8")
    console.print(
        f"postmortem of {incident_id} written to {out} (time to mitigate {format_duration(record.time_to_mitigate_s)})",
        highlight=False,
    )
