"""Settings: one typed, documented place.

Every field reads from the environment with the ``DEVOPS_AGENT_`` prefix (``DEVOPS_AGENT_LLM_MODEL``),
from an optional YAML file (``DEVOPS_AGENT_CONFIG_FILE`` or ``--config``), and from a ``.env`` file.
Precedence: explicit arguments > environment > ``.env`` > YAML file > defaults.
``.env.example`` lists every field; a unit test keeps the two in step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SECRET_FIELDS = frozenset(
    {
        "llm_api_key",
        "api_token",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "database_url",
    }
)


class SettingsError(ValueError):
    """The configuration cannot be used; the message names the field and the fix."""


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the optional YAML config file (keys are field names without the prefix)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is None:
            return
        if not path.is_file():
            raise SettingsError(
                f"config file {path} does not exist; create it or unset DEVOPS_AGENT_CONFIG_FILE"
            )
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"config file {path} must be a YAML mapping of setting names to values")
        self._data = {str(k).lower(): v for k, v in loaded.items()}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """The effective configuration of one devops-agent process."""

    model_config = SettingsConfigDict(
        env_prefix="DEVOPS_AGENT_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- reasoning -----------------------------------------------------------------------------
    llm_base_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible chat-completions endpoint (falls back to "
        "OPENAI_BASE_URL). When neither is set, the offline runbook planner reasons instead.",
    )
    llm_api_key: SecretStr | None = Field(
        None, description="API key for the LLM endpoint (falls back to OPENAI_API_KEY)."
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the LLM endpoint.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature for the LLM.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Timeout of one LLM request, in seconds.")
    llm_max_retries: int = Field(
        3, ge=0, le=10, description="Retries with exponential back-off on 429 and 5xx from the LLM."
    )
    reasoner: Literal["auto", "llm", "planner"] = Field(
        "auto", description="auto: the LLM when an endpoint is set, else the offline planner."
    )

    # --- loop safety ---------------------------------------------------------------------------
    max_steps: int = Field(
        25, ge=1, le=500, description="Reasoning steps per run before it stops with a partial report."
    )
    token_budget: int = Field(
        60000,
        ge=1000,
        description="LLM tokens (prompt + completion) per run before it stops with a partial report.",
    )
    verify_timeout_s: float = Field(
        180.0,
        ge=0,
        description="How long verify watches the signals after a change before calling it no_effect.",
    )
    verify_interval_s: float = Field(
        15.0, ge=0, description="Seconds between two verify checks after a change."
    )
    tool_output_tokens: int = Field(
        1500,
        ge=100,
        description="Token budget of one tool result shown to the model; longer output is truncated.",
    )

    # --- where things live ---------------------------------------------------------------------
    data_dir: Path = Field(
        Path(".data"),
        description="Directory for the checkpoint database, audit log, memory and raw tool output.",
    )
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:5432/db puts the work queue, approvals, audit log "
        "and checkpoints in that Postgres database, shared by every worker; unset: SQLite files in "
        "DATA_DIR.",
    )
    work_lease_s: float = Field(
        60.0,
        ge=1.0,
        description="Lease of a claimed work item, in seconds; its worker renews it while it runs. A "
        "worker that dies stops renewing, and another takes the item over when the lease runs out.",
    )
    runbooks_dir: Path | None = Field(
        None,
        description="Extra runbooks (*.md) loaded after the packaged ones; same id replaces a packaged one.",
    )
    policy_file: Path | None = Field(
        None, description="policy.yaml with autonomy and guardrails; the built-in default is used when unset."
    )
    runbook_drafts: bool = Field(
        True,
        description="learn: write a draft runbook for review when a resolved incident matched no runbook.",
    )
    runbook_drafts_dir: Path | None = Field(
        None,
        description="Where draft runbooks are written (default DATA_DIR/runbooks/drafts); point it at "
        "knowledge/runbooks/drafts of a checkout to review them in a pull request. Never loaded as runbooks.",
    )

    # --- backends ------------------------------------------------------------------------------
    kubeconfig: Path | None = Field(
        None, description="Path to the kubeconfig (default: KUBECONFIG or ~/.kube/config)."
    )
    kube_context: str | None = Field(
        None, description="Kubeconfig context to use by default (default: current-context)."
    )
    default_namespace: str = Field("default", description="Namespace assumed when a question names none.")
    prometheus_url: str = Field("http://127.0.0.1:9090", description="Prometheus HTTP API base URL.")
    loki_url: str = Field("http://127.0.0.1:3100", description="Loki HTTP API base URL.")
    alertmanager_url: str = Field("http://127.0.0.1:9093", description="Alertmanager base URL.")
    http_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one request to Prometheus, Loki or Alertmanager."
    )

    # --- memory --------------------------------------------------------------------------------
    chroma_url: str | None = Field(
        None,
        description="Chroma server URL; when set, memory is shared through HttpClient instead of the data dir.",
    )
    embedding: Literal["hashing", "openai", "onnx-minilm"] = Field(
        "hashing",
        description="Embedding for memory: hashing (offline, default), openai, or onnx-minilm (downloads once).",
    )
    embedding_model: str = Field(
        "text-embedding-3-small", description="Embedding model name when embedding=openai."
    )

    # --- serve / interfaces --------------------------------------------------------------------
    api_token: SecretStr | None = Field(
        None, description="Bearer token protecting the approvals and incidents HTTP API of `serve`."
    )
    serve_host: str = Field("127.0.0.1", description="Address `devops-agent serve` listens on.")
    serve_port: int = Field(8080, ge=0, le=65535, description="Port `devops-agent serve` listens on.")
    max_concurrent_investigations: int = Field(
        2, ge=1, le=64, description="Investigations `serve` runs at once."
    )
    correlate_window_s: float = Field(
        600,
        ge=0,
        description="serve: an alert group opening while another incident of the namespace is under investigation "
        "(within this many seconds) is correlated to it instead of investigated in parallel; 0 disables.",
    )
    follow_up_delay_s: float = Field(
        45,
        ge=0,
        description="serve: seconds after an investigation before its still-firing correlated incidents are investigated.",
    )
    follow_up_settle_s: float = Field(
        600,
        ge=0,
        description="serve: an alert that still fires after a verified fix while triage finds nothing failing is "
        "folded into the fixed incident as lagging; if it still fires this many seconds later, it is investigated.",
    )
    approval_ttl_s: int = Field(
        3600, ge=10, description="Seconds an approval request stays valid before it expires."
    )
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...).")
    slack_app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-...) for Socket Mode."
    )
    slack_signing_secret: SecretStr | None = Field(None, description="Slack signing secret for HTTP mode.")
    slack_channel: str | None = Field(None, description="Slack channel id where new incidents are posted.")
    slack_approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Slack user ids allowed to click Approve/Reject (JSON list or comma-separated). "
        "With neither this nor slack_approver_group set, the policy's approvers apply; if those are empty too, "
        "nobody can approve from Slack.",
    )
    slack_approver_group: str | None = Field(
        None, description="Slack user group id whose members may approve."
    )
    slack_port: int = Field(3000, ge=0, le=65535, description="Port of `devops-agent slack` in HTTP mode.")
    slack_api_url: str | None = Field(
        None, description="Slack Web API base URL (tests point it at a local server; default Slack's)."
    )
    audit_anchor_file: Path | None = Field(
        None,
        description="Append-only file where serve publishes the audit chain's head (default "
        "DATA_DIR/audit-anchors.jsonl); keep a copy outside the data dir and check it with "
        "`audit verify --against FILE`.",
    )
    audit_anchor_interval_s: float = Field(
        300,
        ge=0,
        description="serve: seconds between two publications of the audit chain's head; 0 disables.",
    )

    # --- change journal ------------------------------------------------------------------------
    journal_enabled: bool = Field(
        True, description="serve: follow the Kubernetes watch API in the background and record every change."
    )
    journal_path: Path | None = Field(
        None, description="SQLite file of the change journal (default DATA_DIR/journal.sqlite)."
    )
    journal_namespace: str | None = Field(
        None, description="Record only this namespace (Nodes are always recorded); unset = every namespace."
    )
    journal_retention_days: float = Field(
        14.0, gt=0, description="Changes older than this many days are pruned from the journal."
    )
    journal_max_changes: int = Field(
        100000, ge=100, description="At most this many changes are kept in the journal (the oldest go first)."
    )
    # --- desired state and drift -------------------------------------------------------------
    desired_state: Path | None = Field(
        None,
        description="Desired state: a folder of manifests (plain multi-document YAML, or rendered with "
        "`kubectl kustomize` when it holds a kustomization.yaml) or a local git repository (its "
        "DESIRED_REF tree is read). Unset: no drift check.",
    )
    desired_ref: str = Field(
        "HEAD", description="The git ref (branch, tag, commit) read when DESIRED_STATE is a git repository."
    )
    drift_interval_s: float = Field(
        60, ge=0, description="serve: seconds between two drift checks against the desired state; 0 disables."
    )
    drift_ignored_managers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["kube-controller-manager", "horizontal-pod-autoscaler", "vpa-recommender"],
        description="Field managers whose fields are never drift (controllers that own a field, such as "
        "the HPA's spec.replicas); comma-separated.",
    )
    slo_dir: Path | None = Field(
        None,
        description="Folder of SLO specs (*.yaml, Sloth's format); the guard weighs the budget left of "
        "the services they cover. Unset: no budget input.",
    )
    cost_cpu_hour: float = Field(
        0.031611, ge=0, description="Price of one vCPU-hour for `recommend` (OpenCost's default)."
    )
    cost_gib_hour: float = Field(
        0.004237, ge=0, description="Price of one GiB-hour of memory for `recommend` (OpenCost's default)."
    )

    @field_validator("slack_approvers", "drift_ignored_managers", mode="before")
    @classmethod
    def _split_approvers(cls, v: object) -> object:
        if isinstance(v, str):
            if v.strip().startswith("["):
                return json.loads(v)
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    @field_validator("database_url", mode="after")
    @classmethod
    def _postgres_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        scheme = v.get_secret_value().split("://", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise SettingsError(
                f"DEVOPS_AGENT_DATABASE_URL must be a postgresql:// URL (got scheme {scheme!r}); "
                "unset it to keep the SQLite files in DATA_DIR"
            )
        return v

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand_data_dir(cls, v: Path) -> Path:
        return v.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        cfg = os.environ.get("DEVOPS_AGENT_CONFIG_FILE")
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _YamlSource(settings_cls, Path(cfg) if cfg else None),
        )

    # --- derived -------------------------------------------------------------------------------
    @property
    def effective_llm_base_url(self) -> str | None:
        return self.llm_base_url or os.environ.get("OPENAI_BASE_URL") or None

    @property
    def effective_llm_api_key(self) -> str | None:
        if self.llm_api_key is not None:
            return self.llm_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None

    @property
    def use_llm(self) -> bool:
        if self.reasoner == "llm":
            return True
        if self.reasoner == "planner":
            return False
        return self.effective_llm_base_url is not None

    @property
    def database_url_value(self) -> str | None:
        """The Postgres URL, or None for SQLite files in the data dir."""
        return self.database_url.get_secret_value() if self.database_url else None

    @property
    def effective_journal_path(self) -> Path:
        return (self.journal_path or self.data_dir / "journal.sqlite").expanduser()

    @property
    def effective_runbook_drafts_dir(self) -> Path:
        return (self.runbook_drafts_dir or self.data_dir / "runbooks" / "drafts").expanduser()

    def path(self, name: str) -> Path:
        """A file inside the data dir (created on demand)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain values, secrets masked (for `config show`)."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                out[name] = "********" if value is not None else None
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        out["llm_base_url (effective)"] = self.effective_llm_base_url
        out["reasoner (effective)"] = "llm" if self.use_llm else "planner"
        return out


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one readable SettingsError."""
    if config_file is not None:
        os.environ["DEVOPS_AGENT_CONFIG_FILE"] = str(config_file)
    try:
        return Settings(**overrides)
    except SettingsError:
        raise
    except Exception as exc:  # pydantic ValidationError: name each bad field
        errors = getattr(exc, "errors", None)
        if callable(errors):
            parts = [
                f"DEVOPS_AGENT_{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']} (got {e.get('input')!r})"
                for e in errors()
            ]
            raise SettingsError("invalid settings: " + "; ".join(parts)) from None
        raise
