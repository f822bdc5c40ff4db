"""Kubernetes resource quantities (``500m``, ``1``, ``256Mi``, ``1G``) as plain numbers."""

from __future__ import annotations

_SUFFIXES = {
    "Ki": 1024.0,
    "Mi": 1024.0**2,
    "Gi": 1024.0**3,
    "Ti": 1024.0**4,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "m": 1e-3,
    "u": 1e-6,
    "n": 1e-9,
}


def parse_quantity(text: str) -> float:
    """``"500m"`` → 0.5, ``"256Mi"`` → 268435456.0; raises ValueError naming the bad value."""
    value = text.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if value.endswith(suffix):
            number = value[: -len(suffix)]
            try:
                return float(number) * _SUFFIXES[suffix]
            except ValueError:
                break
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"not a Kubernetes quantity: {text!r} (expected e.g. 500m, 2, 256Mi)") from None
