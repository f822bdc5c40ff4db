"""Embeddings: the offline default is deterministic; the ONNX model never downloads silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import EmbeddingError, HashingEmbedder, make_embedder
from knowledge.memory import load_onnx_minilm


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
