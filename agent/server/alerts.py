"""Alertmanager webhook payloads (version 4), validated strictly enough to trust and loosely enough
to accept what real Alertmanagers send (unknown fields are kept, not refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_ALERTS_PER_GROUP = 1000
MAX_LABEL_VALUE = 1024


class PayloadError(ValueError):
    """A webhook body that cannot be accepted; the message names the problem."""


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("labels")
    @classmethod
    def _needs_alertname(cls, v: dict[str, str]) -> dict[str, str]:
        if not v.get("alertname"):
            raise ValueError("every alert needs labels.alertname")
        for key, value in v.items():
            if len(value) > MAX_LABEL_VALUE:
                raise ValueError(
                    f"label {key} is {len(value)} characters long; the limit is {MAX_LABEL_VALUE}"
                )
        return v

    def key(self) -> str:
        """The fingerprint, or a stable stand-in when Alertmanager did not send one."""
        if self.fingerprint:
            return self.fingerprint
        return ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str = Field(min_length=1, max_length=4096)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    truncatedAlerts: int = 0
    alerts: list[Alert] = Field(min_length=1, max_length=MAX_ALERTS_PER_GROUP)


def parse_payload(raw: object) -> WebhookPayload:
    """Validate a decoded JSON body; raises PayloadError naming every problem."""
    if not isinstance(raw, dict):
        raise PayloadError(
            f"the body must be a JSON object (Alertmanager webhook v4), got {type(raw).__name__}"
        )
    try:
        return WebhookPayload.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for e in exc.errors()[:10]:
            where = ".".join(str(p) for p in e["loc"]) or "(body)"
            problems.append(f"{where}: {e['msg']}")
        raise PayloadError("invalid Alertmanager payload: " + "; ".join(problems)) from None
