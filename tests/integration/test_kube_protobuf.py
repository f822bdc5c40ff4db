"""Protobuf DeleteOptions bodies (what kubectl's typed clients send), read by the API stand-in."""

from __future__ import annotations

import httpx
import pytest
from kube_fixtures import NS, World, needs_kubectl, world_fixture  # noqa: F401

from sandbox.kube.errors import ApiError
from sandbox.kube.protobuf import MAGIC, decode_delete_options


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _envelope(options: bytes) -> bytes:
    type_meta = _field(1, b"v1") + _field(2, b"DeleteOptions")
    return (
        MAGIC + _field(1, type_meta) + _field(2, options) + _field(4, b"application/vnd.kubernetes.protobuf")
    )


def test_decode_delete_options() -> None:
    options = (
        _field(1, 0)
        + _field(2, _field(1, b"uid-1") + _field(2, b"42"))
        + _field(4, b"Foreground")
        + _field(5, b"All")
    )
    assert decode_delete_options(_envelope(options)) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "uid-1", "resourceVersion": "42"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


@pytest.mark.parametrize("body", [b"not protobuf", MAGIC + b"\x0a\x05ab"])
def test_malformed_protobuf_is_a_400(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        decode_delete_options(body)
    assert err.value.code == 400


def test_protobuf_dry_run_delete_keeps_the_pod(world: World) -> None:
    url = f"{world.server.url}/api/v1/namespaces/{NS}/pods/api-h2-0"
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    dry = httpx.request("DELETE", url, content=_envelope(_field(5, b"All")), headers=headers)
    assert dry.status_code == 200 and world.store.try_get("pods", NS, "api-h2-0") is not None
    real = httpx.request("DELETE", url, content=_envelope(b""), headers=headers)
    assert real.status_code == 200 and world.store.try_get("pods", NS, "api-h2-0") is None


@needs_kubectl
def test_kubectl_drain_cordons_and_deletes_the_pods(world: World) -> None:
    out = world.kubectl("drain", "node-1", "--ignore-daemonsets", "--timeout=30s").stdout
    assert "node/node-1 drained" in out
    assert world.store.list("pods", NS) == []
    assert world.store.get("nodes", "", "node-1")["spec"]["unschedulable"] is True
