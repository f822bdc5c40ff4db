"""Embeddings: the offline default is deterministic; the ONNX model never downloads silently."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge.embeddings import EmbeddingError, HashingEmbedder, make_embedder
from knowledge.memory import EmbedderMismatchError, IncidentMemory, load_onnx_minilm
from knowledge.synthetic import synthetic_incidents


def test_hashing_is_deterministic_normalised_and_sized() -> None:
    a = HashingEmbedder(256).embed(["KubePodCrashLooping on predictor", "!!!", ""])
    b = HashingEmbedder(256).embed(["KubePodCrashLooping on predictor", "!!!", ""])
    assert a == b
    assert all(len(v) == 256 for v in a)
    assert all(np.isclose(np.linalg.norm(v), 1.0) for v in a)  # never a zero vector


def test_hashing_similarity_follows_shared_words() -> None:
    e = HashingEmbedder(1024)
    q, near, far = (
        np.array(v)
        for v in e.embed(["predictor OOMKilled", "predictor container OOMKilled", "queue backlog"])
    )
    assert q @ near > q @ far


def test_make_embedder_rejects_unknown_kinds_and_unconfigured_openai() -> None:
    assert make_embedder("hashing").identity == "hashing-1024"
    with pytest.raises(EmbeddingError, match="unknown embedding 'word2vec'"):
        make_embedder("word2vec")
    with pytest.raises(EmbeddingError, match="DEVOPS_AGENT_LLM_BASE_URL"):
        make_embedder("openai")


def test_onnx_model_not_cached_fails_with_the_cache_path(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError) as err:
        load_onnx_minilm(tmp_path / "cache", allow_download=False)
    assert str(tmp_path / "cache") in str(err.value) and "DEVOPS_AGENT_EMBEDDING=hashing" in str(err.value)


class _EmbeddingsServer:
    """A real loopback HTTP server speaking the OpenAI embeddings API (vectors from letter counts)."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, **body})
                if fail:
                    payload, status = {"error": {"message": "model overloaded"}}, 400
                else:
                    data = [
                        {
                            "object": "embedding",
                            "index": i,
                            "embedding": [float(t.count(c)) + 0.1 for c in "aeiou"],
                        }
                        for i, t in enumerate(body["input"])
                    ]
                    payload, status = {"object": "list", "data": data[::-1], "model": body["model"]}, 200
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_openai_embedder_calls_the_configured_endpoint_and_keeps_order(tmp_path: Path) -> None:
    server = _EmbeddingsServer()
    try:
        embedder = make_embedder("openai", model="emb-small", base_url=server.url, api_key="k")
        vectors = embedder.embed(["aaa", "eee"])
        assert vectors[0][0] > vectors[0][1] and vectors[1][1] > vectors[1][0]  # order restored by index
        assert server.requests[0]["path"] == "/v1/embeddings" and server.requests[0]["model"] == "emb-small"
        assert embedder.identity == "openai:emb-small" and embedder.dims == 5
        memory = IncidentMemory.open(tmp_path, None, embedder)
        memory.remember_many(synthetic_incidents(3))
        assert memory.count() == 3
        with pytest.raises(EmbedderMismatchError, match="openai:emb-small"):
            IncidentMemory.open(tmp_path, None, HashingEmbedder())
    finally:
        server.close()


def test_openai_embedder_errors_say_what_to_do() -> None:
    server = _EmbeddingsServer(fail=True)
    try:
        embedder = make_embedder("openai", model="emb-small", base_url=server.url, api_key="k")
        with pytest.raises(
            EmbeddingError, match=r"emb-small.*model overloaded.*DEVOPS_AGENT_EMBEDDING=hashing"
        ):
            embedder.embed(["x"])
    finally:
        server.close()
