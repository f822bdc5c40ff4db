"""A Loki HTTP API stand-in for the sandbox: LogQL parser (:mod:`.logql`), evaluator
(:mod:`.engine`) and server (:mod:`.server`) over the in-memory :class:`sandbox.logs.LogStore`.

Start it with :func:`start_loki`; query it exactly as real Loki.
"""

from sandbox.loki.errors import LokiError, ParseError
from sandbox.loki.server import LokiServer, start_loki

__all__ = ["LokiError", "LokiServer", "ParseError", "start_loki"]
