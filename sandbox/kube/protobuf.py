"""Just enough of Kubernetes' protobuf encoding to read a ``DeleteOptions`` body.

kubectl's typed clients (``kubectl drain`` evicting pods) send request bodies as protobuf. The only
one the stand-in needs to understand is ``meta/v1 DeleteOptions`` on DELETE, so that a server-side
dry run (``dryRun: [All]``) or a precondition is honoured rather than silently dropped. The envelope
is the 4-byte magic ``k8s\\0`` and a ``runtime.Unknown`` message whose ``raw`` field holds the object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sandbox.kube.errors import ApiError, bad_request

Obj = dict[str, Any]
MAGIC = b"k8s\x00"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: varints as int, length-delimited as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            yield number, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_delete_options(body: bytes) -> Obj:
    """The DeleteOptions in a protobuf request body, as the JSON object it stands for."""
    if not body.startswith(MAGIC):
        raise bad_request("a protobuf body must start with the k8s magic prefix")
    try:
        unknown = dict(_fields(body[len(MAGIC) :]))
        raw = unknown.get(2, b"")
        return _delete_options(raw if isinstance(raw, bytes) else b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"cannot read the protobuf DeleteOptions body: {exc}") from None


def _delete_options(raw: bytes) -> Obj:
    options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
    for number, value in _fields(raw):
        if number == 1 and isinstance(value, int):
            options["gracePeriodSeconds"] = value
        elif number == 2 and isinstance(value, bytes):
            names = {1: "uid", 2: "resourceVersion"}
            options["preconditions"] = {names[n]: _text(v) for n, v in _fields(value) if n in names}
        elif number == 3 and isinstance(value, int):
            options["orphanDependents"] = bool(value)
        elif number == 4:
            options["propagationPolicy"] = _text(value)
        elif number == 5:
            options.setdefault("dryRun", []).append(_text(value))
    return options
