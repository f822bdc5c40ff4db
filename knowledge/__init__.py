"""What the agent knows and learns: incident memory, runbooks, outcome statistics, postmortems.

- ``knowledge.records``: ``IncidentRecord`` (written by the learn node), ``PastIncident`` (recall).
- ``knowledge.memory``: ``IncidentMemory.open(data_dir, chroma_url, embedder)`` — the only module
  importing ``chromadb``; ``recall``, ``remember``, ``get``, ``search_runbooks``, export/import, reindex.
- ``knowledge.embeddings``: ``make_embedder("hashing" | "openai" | "onnx-minilm", ...)``.
- ``knowledge.runbooks``: ``load_runbooks``, ``match_runbooks``, ``render_args``.
- ``knowledge.learning``: ``OutcomeStats(path)``, ``signature_for``.
- ``knowledge.postmortem``: ``render_postmortem(record)``.

Never imports ``agent``: callers pass plain values (paths, URLs, names), not settings.
"""
