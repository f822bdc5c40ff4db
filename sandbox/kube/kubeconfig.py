"""A kubeconfig for the stand-in that ``kubectl`` and ``kubernetes.config.load_kube_config`` accept."""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def kubeconfig(url: str, context: str = "sandbox", namespace: str = "market-predictor") -> dict[str, object]:
    """The kubeconfig document: plain HTTP, a user with a dummy token (the stand-in checks none).

    The cluster is named after the context (``sandbox`` by default) and the user ``<context>-admin``,
    so the kubeconfigs of several sandboxes can be merged (``KUBECONFIG=a:b``) without clashing.
    """
    user = f"{context}-admin"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": "sandbox-not-a-secret"}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": user, "namespace": namespace}}
        ],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | os.PathLike[str], url: str, context: str = "sandbox", namespace: str = "market-predictor"
) -> Path:
    """Write the kubeconfig for ``url`` to ``path`` (parent directories created, mode 0600)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(url, context, namespace), sort_keys=False))
    target.chmod(0o600)
    return target
