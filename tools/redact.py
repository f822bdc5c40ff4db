"""Redaction: secrets never reach the model, the audit log or a chat.

``redact_text`` masks secret-looking values in free text (log lines, describe output, URLs);
``redact_obj`` walks JSON-like data and masks values whose key or env-var name looks secret, and
every value of a Kubernetes Secret's ``data`` / ``stringData`` (the keys stay, they are useful).
Deterministic and idempotent: redacting twice gives the same text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MASK = "****"

# A key or env-var name that holds a secret.
SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|"
    r"[_.-]key$|credential|dsn|cookie|session[_-]?id)",
    re.IGNORECASE,
)

_TEXT_NAME = (
    r"[\w.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|credential|client[_-]?key|_key)[\w.-]*"
)


def _auth_header(m: re.Match[str]) -> str:
    scheme = f"{m.group(2)} " if m.group(2) else ""
    return f"{m.group(1)}{scheme}{MASK}"


def _named_value(m: re.Match[str]) -> str:
    value = m.group(2)
    if value.strip("\"'") == MASK:
        return m.group(0)
    quote = value[0] if value[:1] in {'"', "'"} else ""
    return f"{m.group(1)}{quote}{MASK}{quote}"


Replacement = str | Callable[[re.Match[str]], str]

_PATTERNS: list[tuple[re.Pattern[str], Replacement]] = [
    # PEM private key blocks (RSA, EC, OPENSSH, ...).
    (
        re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL),
        f"-----BEGIN \\1PRIVATE KEY-----{MASK}-----END \\1PRIVATE KEY-----",
    ),
    # Authorization / Proxy-Authorization headers, whatever the scheme.
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?)(?:(bearer|basic|token|digest)[ \t]+)?[^\s\"',;]+"
        ),
        _auth_header,
    ),
    # Bare bearer tokens.
    (re.compile(r"(?i)\b(bearer\s+)(?!\*\*\*\*)[A-Za-z0-9\-._~+/]{8,}=*"), f"\\1{MASK}"),
    # user:password@ in URLs.
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):([^/\s@]+)@"), f"\\1:{MASK}@"),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), MASK),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    # Well-known token formats (GitHub, Slack, OpenAI-style).
    (
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,})\b"),
        MASK,
    ),
    # name=value / name: value / "name": "value" where the name looks secret.
    (
        re.compile(rf"(?i)(\"?\b{_TEXT_NAME}\"?[ \t]*[:=][ \t]*)(\"[^\"]*\"|'[^']*'|[^\s,;&}}\]]+)"),
        _named_value,
    ),
]


def redact_text(text: str) -> str:
    """Mask secret values in free text: tokens, passwords, keys, credentials in URLs, key blocks."""
    if not text:
        return text
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def is_secret_name(name: str) -> bool:
    """True when a key or environment variable name suggests its value is a secret."""
    return bool(SECRET_NAME.search(name))


def redact_obj(obj: Any) -> Any:
    """A redacted copy of JSON-like data (dicts, lists, strings); the input is not modified."""
    if isinstance(obj, dict):
        if obj.get("kind") == "Secret":
            return _redact_secret(obj)
        if isinstance(obj.get("name"), str) and "value" in obj and is_secret_name(obj["name"]):
            return {
                k: (MASK if k == "value" and v not in (None, "") else redact_obj(v)) for k, v in obj.items()
            }
        return {
            k: (
                MASK
                if isinstance(v, str) and v and isinstance(k, str) and is_secret_name(k)
                else redact_obj(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(v) for v in obj)
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def _redact_secret(secret: dict[str, Any]) -> dict[str, Any]:
    out = {k: redact_obj(v) for k, v in secret.items() if k not in {"data", "stringData"}}
    for field in ("data", "stringData"):
        if isinstance(secret.get(field), dict):
            out[field] = dict.fromkeys(secret[field], MASK)
    return out
