"""A small loopback HTTP server for the metrics targets (one path per Prometheus scrape job)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

Targets = Mapping[str, Callable[[], bytes]]


class MetricsServer:
    """A running metrics server: ``url`` (``http://127.0.0.1:PORT``), ``port``, ``shutdown()``."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.host, self.port = str(httpd.server_address[0]), int(httpd.server_address[1])
        self.url = f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    host: str = "127.0.0.1", port: int = 0, targets: Targets | Callable[[], Targets] | None = None
) -> MetricsServer:
    """Serve ``targets`` (path → exposition function, or a function returning that mapping, so the
    set can change) on ``host:port`` (0 = a free port) in a daemon thread. ``GET /metrics`` lists the
    paths; an unknown path is a 404 that names the known ones."""
    source = targets if callable(targets) else (lambda: targets or {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            table = source()
            if path in table:
                try:
                    body, status, ctype = table[path](), 200, CONTENT_TYPE_LATEST
                except Exception as exc:  # a broken collector must not kill the server
                    body, status, ctype = f"collector failed: {exc!r}\n".encode(), 500, "text/plain"
            elif path in ("/", "/metrics"):
                body, status, ctype = ("\n".join(sorted(table)) + "\n").encode(), 200, "text/plain"
            else:
                known = ", ".join(sorted(table)) or "none"
                body, status = f"no metrics target at {path}; known targets: {known}\n".encode(), 404
                ctype = "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes every second: stay quiet
            return

    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return MetricsServer(httpd, thread)
