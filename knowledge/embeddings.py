"""Text embeddings for memory, chosen in settings (``DEVOPS_AGENT_EMBEDDING``).

- ``hashing`` (default): scikit-learn's ``HashingVectorizer`` over words and word pairs. Offline,
  deterministic, nothing to download; good at the vocabulary incidents share (alert names, services,
  error strings), blind to synonyms.
- ``openai``: the embeddings API of the configured OpenAI-compatible endpoint.
- ``onnx-minilm``: Chroma's all-MiniLM-L6-v2 ONNX model. It is downloaded once into Chroma's cache;
  offline and not cached, it fails with a message saying how to pre-download it. Never a silent
  fallback: vectors from two embedders cannot be compared.

Each embedder has an :attr:`Embedder.identity` (``hashing-1024``, ``openai:text-embedding-3-small``)
that memory stores with its collections, so opening a memory with another embedder is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

EmbeddingKind = Literal["hashing", "openai", "onnx-minilm"]
Vector = list[float]


class EmbeddingError(RuntimeError):
    """An embedder cannot be built or cannot embed; the message says what to do."""


class Embedder(Protocol):
    """Turns texts into vectors of a fixed size."""

    @property
    def identity(self) -> str:
        """Stable name + parameters, e.g. ``hashing-1024``; stored with the collections."""

    @property
    def dims(self) -> int:
        """Vector size."""

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text, in order."""


class HashingEmbedder:
    """Hashed word and word-pair presence, L2-normalised (scikit-learn ``HashingVectorizer``)."""

    def __init__(self, dims: int = 1024) -> None:
        if dims < 16:
            raise EmbeddingError(f"hashing embedder needs at least 16 dimensions, got {dims}")
        self._dims = dims
        self._vectorizer = HashingVectorizer(
            n_features=dims,
            ngram_range=(1, 2),
            alternate_sign=False,
            binary=True,  # presence, not counts: a repeated log line must not drown the rest
            norm="l2",
            lowercase=True,
            token_pattern=r"(?u)\b\w[\w.\-]*\w\b|\b\w\b",
        )

    @property
    def identity(self) -> str:
        return f"hashing-{self._dims}"

    @property
    def dims(self) -> int:
        return self._dims

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        matrix = self._vectorizer.transform([t if t.strip() else "(empty)" for t in texts])
        dense = np.asarray(matrix.todense(), dtype=np.float32)
        empty = ~dense.any(axis=1)
        if empty.any():  # no token at all (punctuation only): a fixed unit vector, never a zero one
            dense[empty, 0] = 1.0
        return [row.tolist() for row in dense]


class OpenAIEmbedder:
    """The embeddings API of an OpenAI-compatible endpoint."""

    def __init__(
        self, model: str, base_url: str | None, api_key: str | None, dims: int | None = None
    ) -> None:
        from openai import OpenAI  # imported here: only this embedder needs it

        self._model = model
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=30.0, max_retries=2)
        self._dims = dims

    @property
    def identity(self) -> str:
        return f"openai:{self._model}"

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._dims = len(self.embed(["dimension probe"])[0])
        return self._dims

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        try:
            response = self._client.embeddings.create(model=self._model, input=list(texts))
        except Exception as exc:
            raise EmbeddingError(
                f"embedding {len(texts)} text(s) with {self._model} at {self._client.base_url} failed: "
                f"{type(exc).__name__}: {exc}. Check the endpoint and model, or set DEVOPS_AGENT_EMBEDDING=hashing "
                "(then run `devops-agent knowledge reindex`)."
            ) from exc
        vectors = [list(map(float, d.embedding)) for d in sorted(response.data, key=lambda d: d.index)]
        self._dims = len(vectors[0])
        return vectors


class FunctionEmbedder:
    """Wraps a batch function (used for Chroma's ONNX MiniLM model, loaded by ``knowledge.memory``)."""

    def __init__(self, identity: str, dims: int, func: Callable[[list[str]], Any]) -> None:
        self._identity = identity
        self._dims = dims
        self._func = func

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def dims(self) -> int:
        return self._dims

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return [list(map(float, v)) for v in self._func(list(texts))]


def make_embedder(
    kind: EmbeddingKind | str,
    *,
    model: str = "text-embedding-3-small",
    base_url: str | None = None,
    api_key: str | None = None,
    dims: int = 1024,
) -> Embedder:
    """Build the embedder settings ask for; unknown kinds and missing models are clear errors."""
    if kind == "hashing":
        return HashingEmbedder(dims)
    if kind == "openai":
        if not base_url and not api_key:
            raise EmbeddingError(
                "DEVOPS_AGENT_EMBEDDING=openai needs an endpoint: set DEVOPS_AGENT_LLM_BASE_URL (or OPENAI_BASE_URL) "
                "and an API key, or use DEVOPS_AGENT_EMBEDDING=hashing"
            )
        return OpenAIEmbedder(model, base_url, api_key)
    if kind == "onnx-minilm":
        from knowledge.memory import load_onnx_minilm  # the only module allowed to import chromadb

        return FunctionEmbedder("onnx-minilm-l6-v2", 384, load_onnx_minilm())
    raise EmbeddingError(f"unknown embedding {kind!r}; choose one of hashing, openai, onnx-minilm")
