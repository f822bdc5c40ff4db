"""Every posture check, registered by the family modules as they are imported."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from tools.posture.model import Check, CheckFunc, Severity

FAMILIES = ("pods", "resources", "images", "host", "accounts", "rbac", "secrets", "network")
_CHECKS: dict[str, Check] = {}


def check(
    id: str,
    *,
    severity: Severity,
    title: str,
    why: str,
    fix: str,
    kinds: frozenset[str],
    checkov: tuple[str, ...] = (),
    fix_action: str | None = None,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``func`` as the check ``id`` (the family is the module's last name)."""

    def wrap(func: CheckFunc) -> CheckFunc:
        if id in _CHECKS:
            raise ValueError(f"posture check {id!r} is registered twice")
        family = func.__module__.rsplit(".", 1)[-1]
        _CHECKS[id] = Check(id, family, severity, title, why, fix, kinds, func, checkov, fix_action)
        return func

    return wrap


def all_checks() -> list[Check]:
    """Every check, family by family, in registration order."""
    for family in FAMILIES:
        importlib.import_module(f"tools.posture.{family}")
    return list(_CHECKS.values())


def get(check_id: str) -> Check:
    checks = {c.id: c for c in all_checks()}
    if check_id not in checks:
        raise KeyError(f"no posture check {check_id!r}; known: {', '.join(checks)}")
    return checks[check_id]
