"""Prometheus and Alertmanager configuration for the sandbox, generated from what the server serves.

``prometheus_config`` turns the sandbox server's metrics paths into one scrape job each;
``alertmanager_config`` routes every alert to the agent's webhook (or to nowhere). The rule files
live next to this module in ``rules/*.yml`` and are copied into the sandbox dir by ``sandbox up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).parent / "rules"
SCRAPE_INTERVAL = "2s"
EVALUATION_INTERVAL = "2s"


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job: a metrics path on the sandbox server, with the labels it identifies."""

    job: str
    path: str
    labels: dict[str, str]


def job_for_path(path: str) -> ScrapeJob:
    """Name the job for a metrics path.

    ``/metrics/app/<namespace>/<service>`` becomes job ``<namespace>/<service>`` with target labels
    ``namespace`` and ``service``; any other path (``/metrics/kube-state-metrics``,
    ``/metrics/cadvisor``) becomes a job named after its last segment.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[0] == "metrics" and parts[1] == "app":
        namespace, service = parts[2], parts[3]
        return ScrapeJob(f"{namespace}/{service}", path, {"namespace": namespace, "service": service})
    name = parts[-1] if parts else "sandbox"
    if name == "metrics" and len(parts) > 1:
        name = parts[-2]
    return ScrapeJob(name, path, {})


def prometheus_config(
    metrics_paths: list[str], metrics_addr: str, alertmanager_addr: str, rules_glob: str
) -> str:
    """The Prometheus YAML: one job per metrics path on ``metrics_addr`` (``host:port``)."""
    jobs = [job_for_path(p) for p in sorted(metrics_paths)]
    scrape_configs: list[dict[str, Any]] = []
    for job in jobs:
        target: dict[str, Any] = {"targets": [metrics_addr]}
        if job.labels:
            target["labels"] = job.labels
        scrape_configs.append(
            {
                "job_name": job.job,
                "metrics_path": job.path,
                "honor_labels": True,
                "static_configs": [target],
            }
        )
    config = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": "2s",
            "evaluation_interval": EVALUATION_INTERVAL,
            "external_labels": {"cluster": "sandbox"},
        },
        "rule_files": [rules_glob],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_addr]}]}]},
        "scrape_configs": scrape_configs,
    }
    return yaml.safe_dump(config, sort_keys=False)


def alertmanager_config(webhook_url: str | None) -> str:
    """The Alertmanager YAML: everything to ``webhook_url`` (resolved too), or to a null receiver."""
    receiver = "agent-webhook" if webhook_url else "null"
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    if webhook_url:
        receivers.append(
            {
                "name": "agent-webhook",
                "webhook_configs": [{"url": webhook_url, "send_resolved": True, "max_alerts": 0}],
            }
        )
    config = {
        "route": {
            "receiver": receiver,
            "group_by": ["alertname", "namespace", "service"],
            "group_wait": "2s",
            "group_interval": "10s",
            "repeat_interval": "1h",
        },
        "receivers": receivers,
    }
    return yaml.safe_dump(config, sort_keys=False)
