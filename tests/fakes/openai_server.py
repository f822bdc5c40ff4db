"""A real local HTTP server speaking the OpenAI chat-completions API, scripted per test.

It drives the real ``openai`` client (and anything else OpenAI-compatible) without a network::

    with FakeOpenAI([reply(tool_calls=[call("k8s_list", {"kind": "pod"})]), reply("Root cause: ...")]) as llm:
        settings = Settings(llm_base_url=llm.base_url, ...)
        ...
        assert llm.requests[1]["messages"][-1]["role"] == "tool"

Script entries, consumed one per ``POST /v1/chat/completions``:

- :func:`reply` — an assistant message (content and/or tool calls; arguments may be a dict or a raw,
  possibly malformed, string);
- :func:`error` — an HTTP error status (429, 500, ...) with an OpenAI-style error body;
- a callable ``(request_body) -> entry`` — decides from what the model received (e.g. repeat forever).

When the script runs out, ``default`` is used if given, else the server answers 400 ("script
exhausted") so a test that expected fewer calls fails loudly. ``stream: true`` requests get SSE
chunks (content split into pieces, tool-call arguments split too, usage in the last chunk when
``stream_options.include_usage`` is set). Every request body is recorded in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    completion_tokens: int | None = None


@dataclass
class Error:
    status: int
    message: str = "scripted error"


Entry = Reply | Error | Callable[[dict[str, Any]], "Reply | Error"]


def call(name: str, args: dict[str, Any] | str, call_id: str | None = None) -> dict[str, Any]:
    """One tool call; ``args`` as a dict (sent as JSON) or a raw string (sent as is, e.g. malformed)."""
    raw = args if isinstance(args, str) else json.dumps(args)
    return {"id": call_id or f"call_{uuid.uuid4().hex[:10]}", "name": name, "arguments": raw}


def reply(
    content: str | None = None, *, tool_calls: list[dict[str, Any]] | None = None, tokens: int | None = None
) -> Reply:
    return Reply(content=content, tool_calls=list(tool_calls or []), completion_tokens=tokens)


def error(status: int, message: str = "scripted error") -> Error:
    return Error(status, message)


class FakeOpenAI:
    """The server; use as a context manager (binds 127.0.0.1 on a free port)."""

    def __init__(
        self, script: list[Entry] | None = None, *, default: Entry | None = None, model: str = "fake-model"
    ) -> None:
        self.script: list[Entry] = list(script or [])
        self.default = default
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.responses: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *entries: Entry) -> None:
        with self._lock:
            self.script.extend(entries)

    def all_text(self) -> str:
        """Every request body as one string (for 'this never reached the model' assertions)."""
        return "\n".join(json.dumps(r) for r in self.requests)

    # --- serving ------------------------------------------------------------------------------
    def _next(self, body: dict[str, Any]) -> Reply | Error:
        with self._lock:
            self.requests.append(body)
            entry = self.script.pop(0) if self.script else self.default
        if entry is None:
            return Error(400, "fake OpenAI script exhausted: the test expected fewer model calls")
        return entry(body) if callable(entry) else entry

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                fake.responses.append(status)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": fake.model, "object": "model", "owned_by": "fake"}],
                        },
                    )
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                entry = fake._next(body)
                if isinstance(entry, Error):
                    self._json(
                        entry.status,
                        {"error": {"message": entry.message, "type": "scripted", "code": entry.status}},
                    )
                    return
                usage = _usage(body, entry)
                if body.get("stream"):
                    self._stream(body, entry, usage)
                else:
                    self._json(200, _completion(fake.model, entry, usage))

            def _stream(self, body: dict[str, Any], entry: Reply, usage: dict[str, int]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                fake.responses.append(200)
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                for chunk in _chunks(fake.model, entry, usage if include_usage else None):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def _usage(body: dict[str, Any], entry: Reply) -> dict[str, int]:
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    completion = entry.completion_tokens
    if completion is None:
        completion = max(1, (len(entry.content or "") + len(json.dumps(entry.tool_calls))) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _tool_calls(entry: Reply) -> list[dict[str, Any]]:
    return [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for c in entry.tool_calls
    ]


def _completion(model: str, entry: Reply, usage: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": entry.content}
    if entry.tool_calls:
        message["tool_calls"] = _tool_calls(entry)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if entry.tool_calls else "stop"}
        ],
        "usage": usage,
    }


def _pieces(text: str, size: int = 7) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _chunks(model: str, entry: Reply, usage: dict[str, int] | None) -> Iterator[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(entry.content or ""):
        yield chunk({"content": piece})
    for i, c in enumerate(entry.tool_calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": ""},
                    }
                ]
            }
        )
        for piece in _pieces(c["arguments"], 5):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if entry.tool_calls else "stop")
    if usage is not None:
        yield {**base, "choices": [], "usage": usage}
