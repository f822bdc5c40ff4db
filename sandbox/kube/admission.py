"""What a real API server does to an object before storing it: defaulting, then validation.

Defaulting fills the fields clients and the simulation rely on (deployment strategy, revision
history limit, pod restart policy, container pull policy, service ports ...). Validation rejects, with
a 422 ``Invalid`` that lists every offending field, the mistakes an agent or a human could make:
missing selector or template, a selector that does not match the template labels, negative
replicas, a container without a name or image, bad label values and names that are not DNS-1123.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from sandbox.kube.errors import invalid
from sandbox.kube.resources import Resource
from sandbox.kube.selectors import labels_match, requirements_from_selector
from sandbox.metrics.quantity import parse_quantity

Obj = dict[str, Any]
Cause = tuple[str, str, str]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL_RESOURCES = {"services", "namespaces"}


# --- defaulting --------------------------------------------------------------------------------
def apply_defaults(res: Resource, obj: Obj) -> Obj:
    """Fill server-side defaults in place (idempotent, so it runs on every write)."""
    obj["apiVersion"] = res.api_version
    obj["kind"] = res.kind
    obj.setdefault("metadata", {})
    if res.plural == "deployments":
        _default_deployment(obj)
    elif res.plural in ("replicasets", "statefulsets"):
        obj.setdefault("spec", {}).setdefault("replicas", 1)
        _default_template(obj["spec"])
    elif res.plural == "daemonsets":
        _default_template(obj.setdefault("spec", {}))
    elif res.plural == "pods":
        _default_pod_spec(obj.setdefault("spec", {}))
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif res.plural == "services":
        _default_service(obj)
    elif res.plural == "namespaces":
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif res.plural == "secrets":
        obj.setdefault("type", "Opaque")
        _merge_string_data(obj)
    elif res.plural == "horizontalpodautoscalers":
        obj.setdefault("spec", {}).setdefault("minReplicas", 1)
    return obj


def _default_deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        _default_pod_spec(template.setdefault("spec", {}))


def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(container, dict):
            _default_container(container)


def _default_container(container: Obj) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _merge_string_data(secret: Obj) -> None:
    """``stringData`` is write-only, as on a real server: merged into ``data`` (base64), never stored."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data


def _default_service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec.get("clusterIP") != "None":
        key = f"{obj['metadata'].get('namespace', '')}/{obj['metadata'].get('name', '')}"
        h = zlib.crc32(key.encode())
        ip = f"10.96.{(h >> 8) % 256}.{h % 254 + 1}"
        spec.setdefault("clusterIP", ip)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


def _show(value: Any) -> str:
    """A value as the API server quotes it in messages (JSON: strings in double quotes)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


# --- validation --------------------------------------------------------------------------------
def validate(res: Resource, obj: Obj) -> None:
    """Raise 422 Invalid listing every problem found in ``obj``."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    causes = _validate_meta(res, meta)
    raw_spec = obj.get("spec")
    spec: Obj = raw_spec if isinstance(raw_spec, dict) else {}
    if res.plural in ("deployments", "replicasets", "statefulsets", "daemonsets"):
        causes += _validate_workload(spec)
    elif res.plural == "pods":
        causes += _validate_pod_spec(spec, "spec")
    elif res.plural == "horizontalpodautoscalers":
        causes += _validate_hpa(spec)
    if causes:
        raise invalid(res, name, causes)


def _validate_meta(res: Resource, meta: Obj) -> list[Cause]:
    causes: list[Cause] = []
    name = meta.get("name")
    if not name:
        causes.append(
            ("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")
        )
    else:
        pattern, limit, what = (
            (_DNS_LABEL, 63, "RFC 1123 label")
            if res.plural in _DNS_LABEL_RESOURCES
            else (_DNS_SUBDOMAIN, 253, "RFC 1123 subdomain")
        )
        if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
            causes.append(
                (
                    "metadata.name",
                    "FieldValueInvalid",
                    f"Invalid value: {_show(name)}: a lowercase {what} must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric character",
                )
            )
    causes += _validate_labels(meta.get("labels"), "metadata.labels")
    return causes


def _validate_labels(labels: Any, field: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [(field, "FieldValueTypeInvalid", "Invalid value: labels must be a map of strings")]
    causes: list[Cause] = []
    for key, value in labels.items():
        prefix, _, label = str(key).rpartition("/")
        if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or len(label) > 63 or not _LABEL_NAME.match(label):
            causes.append(
                (
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_show(key)}: name part must be a valid label key",
                )
            )
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_show(value)}: a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                    "(at most 63 characters)",
                )
            )
    return causes


def _validate_workload(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(
            (
                "spec.replicas",
                "FieldValueInvalid",
                f"Invalid value: {_show(replicas)}: must be greater than or equal to 0",
            )
        )
    selector = spec.get("selector")
    if not selector or not requirements_from_selector(selector):
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(("spec.template", "FieldValueRequired", "Required value"))
        return causes
    tmeta = template.get("metadata") or {}
    causes += _validate_labels(tmeta.get("labels"), "spec.template.metadata.labels")
    if selector and not labels_match(requirements_from_selector(selector), {"metadata": tmeta}):
        causes.append(
            (
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {_show(tmeta.get('labels'))}: `selector` does not match template `labels`",
            )
        )
    causes += _validate_pod_spec(template.get("spec") or {}, "spec.template.spec")
    return causes


def _validate_pod_spec(spec: Obj, field: str) -> list[Cause]:
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{field}.containers", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        where = f"{field}.containers[{i}]"
        if not isinstance(container, dict):
            causes.append((where, "FieldValueTypeInvalid", "Invalid value: must be an object"))
            continue
        cname = container.get("name")
        if not cname:
            causes.append((f"{where}.name", "FieldValueRequired", "Required value"))
        elif not isinstance(cname, str) or not _DNS_LABEL.match(cname):
            causes.append(
                (
                    f"{where}.name",
                    "FieldValueInvalid",
                    f"Invalid value: {_show(cname)}: must be a DNS-1123 label",
                )
            )
        elif cname in seen:
            causes.append((f"{where}.name", "FieldValueDuplicate", f"Duplicate value: {_show(cname)}"))
        seen.add(str(cname))
        if not str(container.get("image") or "").strip():
            causes.append((f"{where}.image", "FieldValueRequired", "Required value"))
        causes += _validate_resources(container.get("resources"), f"{where}.resources")
    return causes


_QUANTITY_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"


def _quantities(values: Any, field: str, causes: list[Cause]) -> dict[str, float]:
    """Parsed quantities of a requests/limits map; unparsable ones become causes, as on a real server."""
    out: dict[str, float] = {}
    for name, raw in (values or {}).items() if isinstance(values, dict) else ():
        try:
            out[str(name)] = parse_quantity(str(raw))
        except ValueError:
            causes.append(
                (
                    f"{field}[{name}]",
                    "FieldValueInvalid",
                    f"Invalid value: {_show(raw)}: quantities must match the regular expression '{_QUANTITY_RE}'",
                )
            )
    return out


def _validate_resources(resources: Any, field: str) -> list[Cause]:
    """A limit below its request is refused (``must be greater than or equal to <name> request``)."""
    if not isinstance(resources, dict):
        return []
    causes: list[Cause] = []
    requests = _quantities(resources.get("requests"), f"{field}.requests", causes)
    limits = _quantities(resources.get("limits"), f"{field}.limits", causes)
    for name, limit in limits.items():
        if name in requests and limit < requests[name]:
            shown = resources["limits"][name]
            causes.append(
                (
                    f"{field}.limits[{name}]",
                    "FieldValueInvalid",
                    f"Invalid value: {_show(str(shown))}: must be greater than or equal to {name} request",
                )
            )
    return causes


def _validate_hpa(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not isinstance(high, int) or high < 1:
        causes.append(
            ("spec.maxReplicas", "FieldValueInvalid", f"Invalid value: {_show(high)}: must be greater than 0")
        )
    if not isinstance(low, int) or low < 1:
        causes.append(
            ("spec.minReplicas", "FieldValueInvalid", f"Invalid value: {_show(low)}: must be greater than 0")
        )
    elif isinstance(high, int) and low > high:
        causes.append(
            (
                "spec.minReplicas",
                "FieldValueInvalid",
                f"Invalid value: {low}: must be less than or equal to maxReplicas",
            )
        )
    if not (spec.get("scaleTargetRef") or {}).get("name"):
        causes.append(("spec.scaleTargetRef.name", "FieldValueRequired", "Required value"))
    return causes
