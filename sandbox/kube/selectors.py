"""Label and field selectors, parsed from query strings the way the API server reads them.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists) and
``!k`` (does not exist), comma-separated (all must hold). Field selectors: ``f=v``, ``f==v``,
``f!=v`` over a fixed set of fields per resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.kube.errors import bad_request
from sandbox.kube.resources import Resource

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``op`` is one of =, !=, in, notin, exists, !exists."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.key)
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op in ("=", "in"):
            return value is not None and value in self.values
        # != and notin also match objects without the label, as in Kubernetes.
        return value is None or value not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse a ``labelSelector`` query value; a bad selector is a 400 naming the offending part."""
    if not text:
        return []
    reqs = []
    for part in _split_top_level(text):
        eq = _EQ_RE.match(part)
        if eq:
            key, op, value = eq.groups()
            reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            continue
        st = _SET_RE.match(part)
        if not st:
            raise bad_request(f"unable to parse requirement: {part!r} in labelSelector {text!r}")
        neg, key, op, values = st.groups()
        if op:
            if neg:
                raise bad_request(f"unable to parse requirement: {part!r}: '!' cannot be used with {op}")
            reqs.append(Requirement(key, op, tuple(v.strip() for v in values.split(",") if v.strip())))
        else:
            reqs.append(Requirement(key, "!exists" if neg else "exists"))
    return reqs


def labels_match(reqs: list[Requirement], obj: Obj) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def selector_matcher(selector: Obj | None) -> Matcher:
    """A matcher for a ``LabelSelector`` object (``matchLabels`` + ``matchExpressions``).

    An empty or missing selector matches nothing, as a workload selector does.
    """
    reqs = requirements_from_selector(selector)
    if not reqs:
        return lambda _obj: False
    return lambda obj: labels_match(reqs, obj)


def requirements_from_selector(selector: Obj | None) -> list[Requirement]:
    selector = selector or {}
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    op_names = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        op = op_names.get(expr.get("operator", ""), "in")
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return reqs


def selector_string(selector: Obj | None) -> str:
    """A ``LabelSelector`` object rendered as a query string (``app=web,tier in (a,b)``)."""
    out = []
    for r in requirements_from_selector(selector):
        if r.op == "=":
            out.append(f"{r.key}={r.values[0]}")
        elif r.op == "exists":
            out.append(r.key)
        elif r.op == "!exists":
            out.append(f"!{r.key}")
        else:
            out.append(f"{r.key} {r.op} ({','.join(r.values)})")
    return ",".join(out)


# --- field selectors ---------------------------------------------------------------------------
def _field_value(obj: Obj, path: str) -> str:
    if path == "source":  # events: the reporting component
        return str((obj.get("source") or {}).get("component", ""))
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(text: str | None, res: Resource) -> Matcher:
    """Parse a ``fieldSelector`` for ``res``; unsupported fields are a 400 as on a real server."""
    if not text:
        return lambda _obj: True
    terms: list[tuple[str, bool, str]] = []
    allowed = {"metadata.name", "metadata.namespace", *res.field_selectors}
    for part in _split_top_level(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f"invalid selector: {part!r}; can't understand it in fieldSelector {text!r}")
        field_name, op, value = m.groups()
        if field_name not in allowed:
            raise bad_request(
                f'"{field_name}" is not a known field selector: only "{", ".join(sorted(allowed))}"'
                f" are supported for {res.plural}"
            )
        terms.append((field_name, op != "!=", value))

    def match(obj: Obj) -> bool:
        return all((_field_value(obj, f) == v) == positive for f, positive, v in terms)

    return match


def object_matcher(res: Resource, label_selector: str | None, field_selector: str | None) -> Matcher:
    """One matcher for both selectors of a list or watch request."""
    reqs = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, res)
    return lambda obj: labels_match(reqs, obj) and fields(obj)
