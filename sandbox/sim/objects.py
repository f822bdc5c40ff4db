"""Small helpers over API objects shared by the controllers: quantities, selectors, owners, times."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Clock = Callable[[], float]

# The alphabet Kubernetes uses for generated names and template hashes (no vowels, no 0/1/3).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"


# --- time -------------------------------------------------------------------------------------
def iso(ts: float) -> str:
    """RFC 3339 timestamp with second precision, as the API serves them."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> float | None:
    """Epoch seconds of an API timestamp, or None when absent or unparsable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- quantities -------------------------------------------------------------------------------
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "m": 10**-3}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(value: object) -> float:
    """A resource quantity (``"250m"``, ``"1.5"``, ``"512Mi"``, ``"1G"``, ``2``) as a plain number.

    Raises ValueError with the offending value when it is not a Kubernetes quantity.
    """
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise ValueError(f"quantities must match the regular expression of a Kubernetes quantity: {value!r}")
    number, suffix = float(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        raise ValueError(f"unknown quantity suffix {suffix!r} in {value!r}")
    return number


def cpu_millicores(value: object) -> float:
    """A CPU quantity in millicores (``"250m"`` → 250, ``"2"`` → 2000)."""
    return quantity(value) * 1000.0


def memory_mib(value: object) -> float:
    """A memory quantity in MiB (``"512Mi"`` → 512, ``"1Gi"`` → 1024, ``"1G"`` → 953.7)."""
    return quantity(value) / 2**20


def container_resources(container: Mapping[str, Any]) -> dict[str, float | None]:
    """Requests and limits of one container: cpu in millicores, memory in MiB (None when unset).

    As in Kubernetes, a limit without a request makes the request equal to the limit.
    """
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    cpu_limit = cpu_millicores(limits["cpu"]) if "cpu" in limits else None
    mem_limit = memory_mib(limits["memory"]) if "memory" in limits else None
    cpu_req = cpu_millicores(requests["cpu"]) if "cpu" in requests else cpu_limit
    mem_req = memory_mib(requests["memory"]) if "memory" in requests else mem_limit
    return {
        "cpu_request": cpu_req,
        "cpu_limit": cpu_limit,
        "memory_request": mem_req,
        "memory_limit": mem_limit,
    }


def pod_requests(pod: Mapping[str, Any]) -> tuple[float, float]:
    """Total (cpu millicores, memory MiB) a pod requests from its node."""
    cpu = mem = 0.0
    for container in pod.get("spec", {}).get("containers", []):
        res = container_resources(container)
        cpu += res["cpu_request"] or 0.0
        mem += res["memory_request"] or 0.0
    return cpu, mem


def int_or_percent(value: object, total: int, *, round_up: bool) -> int:
    """Resolve ``maxSurge``/``maxUnavailable`` style values (``1`` or ``"25%"``) against ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100.0
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(str(value))


# --- selectors and ownership -----------------------------------------------------------------
def matches_labels(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether ``labels`` satisfies a LabelSelector (``matchLabels`` + ``matchExpressions``).

    A plain dict (a Service's selector) is treated as ``matchLabels``. An empty or missing selector
    matches nothing, as for Services and controllers.
    """
    if not selector:
        return False
    labels = labels or {}
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions") or [])


def _expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            left, right = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def owner_uid(obj: Mapping[str, Any]) -> str | None:
    """uid of the controlling owner (``ownerReferences[].controller``), if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def owner_ref(owner: Mapping[str, Any]) -> Obj:
    """A controller ownerReference pointing at ``owner``."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", "v1"),
        "kind": owner.get("kind", ""),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def condition(obj: Mapping[str, Any], type_: str) -> Obj | None:
    """The status condition of ``type_``, or None."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def condition_true(obj: Mapping[str, Any], type_: str) -> bool:
    cond = condition(obj, type_)
    return cond is not None and cond.get("status") == "True"


def set_condition(conditions: list[Obj], new: Obj, now: str) -> list[Obj]:
    """Insert or replace a condition; ``lastTransitionTime`` moves only when the status changes.

    A ``lastUpdateTime`` given in ``new`` is kept; otherwise the old one (if any) stays.
    """
    out = [dict(c) for c in conditions]
    for cond in out:
        if cond.get("type") == new["type"]:
            transition = (
                now if cond.get("status") != new.get("status") else cond.get("lastTransitionTime", now)
            )
            cond.update(new)
            cond["lastTransitionTime"] = transition
            return out
    out.append({**new, "lastTransitionTime": now})
    return out


# --- hashing ---------------------------------------------------------------------------------
def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Kubernetes' ``rand.SafeEncodeString``: map each character onto the safe alphabet."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """The ``pod-template-hash`` of a pod template, computed as the deployment controller does."""
    clean = strip_hash(template)
    data = json.dumps(clean, sort_keys=True, separators=(",", ":")) + (
        str(collision_count) if collision_count else ""
    )
    return safe_encode(str(fnv32a(data.encode())))


def strip_hash(template: Mapping[str, Any]) -> Obj:
    """A copy of a pod template without the ``pod-template-hash`` label (for equality checks)."""
    clean: Obj = copy.deepcopy(dict(template))
    labels = clean.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return clean


def canonical(value: Any) -> Any:
    """``value`` without empty fields (None, {}, []), so a defaulted and a raw template compare equal."""
    if isinstance(value, dict):
        out = {k: canonical(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two pod templates are equal apart from the ``pod-template-hash`` label and empty fields.

    The API server defaults templates it stores (``securityContext: {}``, ``resources: {}``); the
    controller's ReplicaSets may have been written without those, so empties do not count.
    """
    images_a = [c.get("image") for c in (a.get("spec") or {}).get("containers") or []]
    images_b = [c.get("image") for c in (b.get("spec") or {}).get("containers") or []]
    if images_a != images_b:
        return False
    labels_a = {k: v for k, v in ((a.get("metadata") or {}).get("labels") or {}).items() if k != HASH_LABEL}
    labels_b = {k: v for k, v in ((b.get("metadata") or {}).get("labels") or {}).items() if k != HASH_LABEL}
    if labels_a != labels_b:
        return False
    if a.get("spec") == b.get("spec") and {**(a.get("metadata") or {}), "labels": None} == {
        **(b.get("metadata") or {}),
        "labels": None,
    }:
        return True
    return bool(canonical(strip_hash(a)) == canonical(strip_hash(b)))


def ref(obj: Mapping[str, Any], default_api: str = "v1") -> Obj:
    """An ``involvedObject``-style reference to ``obj``."""
    meta = obj["metadata"]
    return {
        "apiVersion": obj.get("apiVersion", default_api),
        "kind": obj.get("kind", ""),
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
