"""SLOs as code: one YAML file per service, validated on load.

The format is Sloth's ``prometheus/v1`` spec (https://sloth.dev), so a Sloth file loads unchanged,
plus three optional fields of our own: ``window`` (the SLO period, Sloth's ``--default-slo-period``),
and ``namespace`` / ``workloads``, which tie the SLO to the Kubernetes objects whose changes the
guard weighs against the remaining budget::

    version: prometheus/v1
    service: predictor
    namespace: market-predictor          # ours: where the service runs
    workloads: [predictor]               # ours: deployments this SLO covers (default: [service])
    labels: {team: ml}
    slos:
      - name: requests-availability
        objective: 99.5                   # percent
        window: 30d                       # ours; default 30d
        sli:
          events:
            error_query: sum(rate(http_requests_total{service="predictor",code=~"5.."}[{{.window}}]))
            total_query: sum(rate(http_requests_total{service="predictor"}[{{.window}}]))
        alerting:
          name: PredictorAvailabilitySLO
          page_alert: {labels: {severity: critical}}
          ticket_alert: {labels: {severity: warning}}

A bad file is refused with the file, the field and the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

WINDOW_PLACEHOLDER = "{{.window}}"
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_ALERT_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class SLOError(ValueError):
    """An SLO file cannot be used; the message names the file, the field and the reason."""


def duration_s(value: str) -> int:
    """Seconds in a Prometheus duration of one unit (``5m``, ``30d``); raises ``ValueError``."""
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a duration like 5m, 6h or 30d")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Events(_Strict):
    error_query: str = Field(description="PromQL counting bad events per second over {{.window}}.")
    total_query: str = Field(description="PromQL counting all events per second over {{.window}}.")

    @field_validator("error_query", "total_query")
    @classmethod
    def _has_window(cls, v: str) -> str:
        if WINDOW_PLACEHOLDER not in v:
            raise ValueError(
                f"the query must contain {WINDOW_PLACEHOLDER} where the range goes, e.g. "
                f"rate(http_requests_total[{WINDOW_PLACEHOLDER}]); got {v!r}"
            )
        return v.strip()


class SLI(_Strict):
    events: Events


class AlertSeverity(_Strict):
    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Alerting(_Strict):
    name: str | None = Field(None, description="Alert name; required unless both alerts are disabled.")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: AlertSeverity = Field(default_factory=AlertSeverity)
    ticket_alert: AlertSeverity = Field(default_factory=AlertSeverity)

    @model_validator(mode="after")
    def _named(self) -> Alerting:
        enabled = not (self.page_alert.disable and self.ticket_alert.disable)
        if enabled and not self.name:
            raise ValueError("alerting.name is required unless page_alert and ticket_alert are disabled")
        if self.name and not _ALERT_NAME.match(self.name):
            raise ValueError(f"alert name {self.name!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
        return self


class SLO(_Strict):
    name: str
    objective: float = Field(gt=0, lt=100, description="Target share of good events, in percent.")
    description: str = ""
    window: str = Field("30d", description="The SLO period the budget is counted over.")
    labels: dict[str, str] = Field(default_factory=dict)
    sli: SLI
    alerting: Alerting = Field(default_factory=Alerting)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} must be letters, digits, '-', '_' or '.'")
        return v

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        seconds = duration_s(v)
        if seconds < 86400 or seconds % 86400:
            raise ValueError(f"the SLO window must be whole days (e.g. 28d, 30d), got {v!r}")
        return v

    @property
    def error_budget(self) -> float:
        """The allowed share of bad events (0.001 for 99.9%)."""
        return (100 - self.objective) / 100

    @property
    def window_days(self) -> int:
        return duration_s(self.window) // 86400


class SLOFile(_Strict):
    version: Literal["prometheus/v1"] = "prometheus/v1"
    service: str
    namespace: str | None = Field(None, description="Kubernetes namespace the service runs in.")
    workloads: list[str] = Field(
        default_factory=list, description="Deployments this service's SLOs cover (default: [service])."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    slos: list[SLO] = Field(min_length=1)
    source: str = Field("", exclude=True, description="The file it was loaded from (not in YAML).")

    @field_validator("service")
    @classmethod
    def _service(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} must be letters, digits, '-', '_' or '.'")
        return v

    @model_validator(mode="after")
    def _unique(self) -> SLOFile:
        names = [s.name for s in self.slos]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"SLO names must be unique within a service; repeated: {', '.join(dupes)}")
        return self

    def covers(self, namespace: str | None, workload: str) -> bool:
        """True when a change to ``namespace/workload`` touches this service."""
        if self.namespace is not None and namespace != self.namespace:
            return False
        return workload in (self.workloads or [self.service])


def slo_id(service: str, slo: SLO) -> str:
    return f"{service}-{slo.name}"


def parse_slo_file(text: str, source: str) -> SLOFile:
    """Validate one file's text; ``source`` names it in errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SLOError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SLOError(f"{source}: an SLO file must be a YAML mapping, got {type(raw).__name__}")
    try:
        spec = SLOFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise SLOError(f"{source}: invalid SLO spec: {problems}") from None
    spec.source = source
    return spec


def load_slo_dir(directory: Path) -> list[SLOFile]:
    """Every ``*.yaml``/``*.yml`` file of a directory, sorted by name; a service may appear once."""
    if not directory.is_dir():
        raise SLOError(f"{directory}: SLO directory not found; set DEVOPS_AGENT_SLO_DIR to a folder of specs")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    specs = [parse_slo_file(f.read_text(), str(f)) for f in files]
    seen: dict[tuple[str | None, str], str] = {}
    for s in specs:
        key = (s.namespace, s.service)
        if key in seen:
            raise SLOError(f"{s.source}: service {s.service!r} is already defined in {seen[key]}")
        seen[key] = s.source
    return specs
