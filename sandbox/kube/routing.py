"""URL and header parsing for the API server: which resource, namespace, name and subresource."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from sandbox.kube.errors import ApiError, path_not_found
from sandbox.kube.resources import Resource, lookup


@dataclass(frozen=True)
class Route:
    """A resource request: ``name`` empty = collection, ``sub`` empty = the object itself."""

    res: Resource
    namespace: str | None  # None = all namespaces (or cluster-scoped)
    name: str = ""
    sub: str = ""


def parse_route(path: str) -> Route | None:
    """The resource a ``/api/v1/...`` or ``/apis/<group>/<version>/...`` path names.

    Returns None for paths that are not resource paths (discovery, health); raises 404 for resource
    paths naming something the server does not serve.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    route = _resolve(group, version, rest)
    if route is None:
        raise path_not_found(path)
    return route


def _resolve(group: str, version: str, rest: list[str]) -> Route | None:
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    res = lookup(group, version, rest[0])
    if res is None or len(rest) > 3:
        return None
    if namespace is not None and not res.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in res.subresources:
        return None
    if res.namespaced and name and namespace is None:
        return None  # a namespaced object needs its namespace in the path
    return Route(res, namespace, name, sub)


def query_params(raw: str) -> dict[str, list[str]]:
    return {k: v for k, v in parse_qs(raw, keep_blank_values=True).items()}


def last(params: dict[str, list[str]], key: str, default: str = "") -> str:
    values = params.get(key)
    return values[-1] if values else default


def int_param(params: dict[str, list[str]], key: str, default: int = 0) -> int:
    raw = last(params, key)
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "BadRequest", f"query parameter {key}={raw!r} is not an integer") from None


def is_true(params: dict[str, list[str]], key: str) -> bool:
    return last(params, key).lower() in ("true", "1")


def wanted_view(accept: str) -> str:
    """``Table``, ``PartialObjectMetadata``/``List`` or "" (the object) from the Accept header.

    The first acceptable media type wins, as content negotiation does.
    """
    for media in accept.split(","):
        params = dict(_param(p) for p in media.split(";")[1:])
        view = params.get("as", "")
        if view in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return view
        if not view and media.split(";")[0].strip() in ("application/json", "*/*", "application/*", ""):
            return ""
    return ""


def _param(text: str) -> tuple[str, str]:
    key, _, value = text.strip().partition("=")
    return key.strip(), value.strip()
