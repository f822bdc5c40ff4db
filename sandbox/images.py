"""The image catalog: what each container image *is*, as behaviour.

A pod behaves as its image says. A bad deploy is a rollout to a tag whose profile returns 5xx; a
memory leak is a tag whose memory grows; a tag that is not in ``IMAGES`` cannot be pulled
(``ImagePullBackOff``). Nothing else in the sandbox decides how a workload behaves: the kubelet
(``sandbox.sim``) reads start-up, commands, env rules and probes from here, and the traffic and
metrics side reads error ratio, latency, CPU and memory from here.

Keys are full image references ``registry/repo:tag``. Field names are a contract between parts:
add fields freely, never rename one.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Literal

REGISTRY = "registry.local/market-predictor"


@dataclass(frozen=True)
class EnvRule:
    """How an image reads one environment variable, and what a bad value does to it.

    A value is bad when it is missing and ``required``, not in ``choices``, not an integer inside
    ``int_range``, or not matching ``pattern``. With ``on_invalid="crash"`` the container exits with
    ``exit_code`` after printing ``crash_log`` (templates with ``{name}`` and ``{value}``); with
    ``"degrade"`` it starts anyway and the traffic side reads the value to change behaviour
    (e.g. a tiny connection pool).
    """

    required: bool = False
    default: str | None = None
    choices: tuple[str, ...] | None = None
    int_range: tuple[int, int] | None = None
    pattern: str | None = None
    on_invalid: Literal["crash", "degrade"] = "crash"
    exit_code: int = 1
    crash_log: tuple[str, ...] = ()

    def problem(self, name: str, value: str | None) -> str | None:
        """Why ``value`` is unacceptable for ``name``, or None when it is fine."""
        if value is None:
            return f"required environment variable {name} is not set" if self.required else None
        if self.choices is not None and value not in self.choices:
            return f"{name}={value!r} is not one of {', '.join(self.choices)}"
        if self.int_range is not None:
            try:
                number = int(value)
            except ValueError:
                return f"invalid literal for int() with base 10: {value!r}"
            low, high = self.int_range
            if not low <= number <= high:
                return f"{name}={number} is outside the allowed range {low}..{high}"
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return f"{name}={value!r} does not match {self.pattern}"
        return None


@dataclass(frozen=True)
class LogTemplates:
    """Lines an image prints. Templates use ``str.format`` fields; unknown fields render empty.

    Common fields: ``{ts}``, ``{trace_id}``, ``{route}``, ``{code}``, ``{latency_ms}``, ``{port}``,
    ``{upstream}``, ``{name}``, ``{value}``, ``{detail}``, ``{pod}``; start-up lines also get the resolved env by name (``{MODEL_PATH}``).
    """

    startup: tuple[str, ...] = ()
    info: tuple[str, ...] = ()
    error: tuple[str, ...] = ()
    upstream_error: dict[str, str] = field(default_factory=dict)  # result -> template
    shutdown: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageProfile:
    """The behaviour of one image tag. See the module docstring."""

    service: str
    port: int
    readiness_path: str | None  # None: TCP check only (the port must match)
    liveness_path: str | None
    error_ratio: float = 0.0
    latency_ms: float = 20.0
    cpu_per_rps: float = 2.0
    base_memory_mib: float = 128.0
    memory_growth_mib_per_min: float = 0.0
    startup_s: float = 3.0
    crash_on_start: tuple[int, str] | None = None
    commands: tuple[str, ...] = ()
    reads_env: dict[str, EnvRule] = field(default_factory=dict)
    needs_password_env: str | None = None
    log_lines: LogTemplates = field(default_factory=LogTemplates)
    stall_after_s: float | None = None
    max_connections_env: str | None = None
    # -- added after the first commit (additive only) --
    version: str = ""
    protocol: Literal["http", "tcp"] = "http"
    routes: tuple[str, ...] = ()
    idle_cpu_millicores: float = 5.0
    memory_per_rps_mib: float = 0.5
    upstreams: dict[str, str] = field(default_factory=dict)  # upstream service -> env var with its URL
    upstream_password_env: dict[str, str] = field(default_factory=dict)  # upstream -> env with password
    pool_size_env: str | None = None  # env var: connections this client opens per pod to its database
    default_pool_size: int = 10
    default_max_connections: int = 100
    default_command: tuple[str, ...] = ()
    consumes_per_s: float = 0.0  # queue consumers: messages per second per pod when healthy

    @property
    def entrypoint(self) -> str:
        return (
            self.default_command[0] if self.default_command else (self.commands[0] if self.commands else "")
        )


def _json(level: str, msg: str, extra: str = "") -> str:
    tail = f",{extra}" if extra else ""
    return '{{"ts":"{ts}","level":"' + level + '","msg":"' + msg + '","trace_id":"{trace_id}"' + tail + "}}"


_HTTP_UPSTREAM_ERRORS = {
    "refused": _json("error", "upstream request failed: dial tcp {upstream}: connect: connection refused"),
    "timeout": _json(
        "error", "upstream request failed: context deadline exceeded (Client.Timeout) calling {upstream}"
    ),
    "error": _json("error", "upstream {upstream} returned 500 Internal Server Error"),
    "auth_failed": _json("error", "upstream {upstream} rejected credentials: authentication failed"),
}

_PY_TRACE = (
    "Traceback (most recent call last):",
    '  File "/app/{service}/main.py", line 42, in <module>',
    "    settings = load_settings()",
    '  File "/app/{service}/settings.py", line 17, in load_settings',
    "    return Settings(**os.environ)",
    "{detail}",
)

# --- api-gateway ------------------------------------------------------------------------------
_GATEWAY_LOGS = LogTemplates(
    startup=(
        _json("info", "starting api-gateway", '"version":"{version}"'),
        _json("info", "listening on :{port}"),
    ),
    info=(_json("info", "request completed", '"route":"{route}","status":{code},"latency_ms":{latency_ms}'),),
    error=(_json("error", "request failed", '"route":"{route}","status":{code},"latency_ms":{latency_ms}'),),
    upstream_error=_HTTP_UPSTREAM_ERRORS,
    shutdown=(_json("info", "received SIGTERM, draining connections"),),
)
_GATEWAY = ImageProfile(
    service="api-gateway",
    port=8080,
    readiness_path="/ready",
    liveness_path="/healthz",
    latency_ms=8.0,
    cpu_per_rps=1.5,
    base_memory_mib=96.0,
    memory_per_rps_mib=0.2,
    startup_s=2.0,
    commands=("gateway", "/usr/local/bin/gateway"),
    default_command=("gateway",),
    reads_env={
        "PREDICTOR_URL": EnvRule(required=True, exit_code=1, crash_log=(_json("fatal", "{detail}"),)),
        "CACHE_URL": EnvRule(required=True, exit_code=1, crash_log=(_json("fatal", "{detail}"),)),
        "LOG_LEVEL": EnvRule(
            default="info", choices=("debug", "info", "warn", "error"), on_invalid="degrade"
        ),
    },
    upstreams={"predictor": "PREDICTOR_URL", "cache": "CACHE_URL"},
    upstream_password_env={"cache": "CACHE_PASSWORD"},
    routes=("/api/v1/predict", "/api/v1/quote", "/api/v1/health"),
    log_lines=_GATEWAY_LOGS,
)

# --- predictor --------------------------------------------------------------------------------
_PREDICTOR_LOGS = LogTemplates(
    startup=(
        _json("info", "loading model", '"model_path":"{MODEL_PATH}"'),
        _json("info", "model loaded, serving on :{port}", '"version":"{version}"'),
    ),
    info=(_json("info", "prediction served", '"route":"{route}","status":{code},"latency_ms":{latency_ms}'),),
    error=(
        _json(
            "error",
            "prediction failed: model returned NaN for feature vector",
            '"route":"{route}","status":{code}',
        ),
        "Traceback (most recent call last):",
        '  File "/app/predictor/serve.py", line 118, in predict',
        "    score = model.predict(features)[0]",
        "ValueError: Input contains NaN, infinity or a value too large for dtype('float32').",
    ),
    upstream_error=_HTTP_UPSTREAM_ERRORS,
    shutdown=(_json("info", "worker exiting (pid: 7)"),),
)
_PREDICTOR_ENV = {
    "MODEL_PATH": EnvRule(
        required=True,
        pattern=r"/models/[\w.\-/]+",
        exit_code=1,
        crash_log=(
            *_PY_TRACE[:-1],
            "FileNotFoundError: [Errno 2] No such file or directory: '{value}'",
        ),
    ),
    "WORKERS": EnvRule(
        default="4",
        int_range=(1, 32),
        exit_code=1,
        crash_log=(*_PY_TRACE[:-1], "ValueError: {detail}"),
    ),
    "FEATURE_STORE_URL": EnvRule(required=True, exit_code=1, crash_log=(_json("fatal", "{detail}"),)),
    "FEATURE_STORE_PASSWORD": EnvRule(required=True, exit_code=1, crash_log=(_json("fatal", "{detail}"),)),
}
_PREDICTOR = ImageProfile(
    service="predictor",
    port=8000,
    readiness_path="/ready",
    liveness_path="/healthz",
    latency_ms=45.0,
    cpu_per_rps=6.0,
    base_memory_mib=300.0,
    memory_per_rps_mib=0.8,
    startup_s=5.0,
    commands=("predictor", "python", "/usr/local/bin/predictor"),
    default_command=("predictor",),
    reads_env=_PREDICTOR_ENV,
    upstreams={"feature-store": "FEATURE_STORE_URL"},
    upstream_password_env={"feature-store": "FEATURE_STORE_PASSWORD"},
    pool_size_env="DB_POOL_SIZE",
    default_pool_size=5,
    routes=("/v1/predict", "/v1/models"),
    log_lines=_PREDICTOR_LOGS,
)

# --- feature-store (a Postgres-like database) ------------------------------------------------
_DB_LOGS = LogTemplates(
    startup=(
        "{ts} UTC [1] LOG:  starting feature-store {version} on x86_64-pc-linux-gnu",
        '{ts} UTC [1] LOG:  listening on IPv4 address "0.0.0.0", port {port}',
        "{ts} UTC [1] LOG:  database system is ready to accept connections",
    ),
    info=("{ts} UTC [{pid}] LOG:  connection authorized: user=features database=features",),
    error=(
        "{ts} UTC [{pid}] FATAL:  sorry, too many clients already",
        '{ts} UTC [{pid}] FATAL:  password authentication failed for user "features"',
    ),
    shutdown=("{ts} UTC [1] LOG:  received fast shutdown request",),
)
_FEATURE_STORE = ImageProfile(
    service="feature-store",
    port=5432,
    readiness_path=None,
    liveness_path=None,
    protocol="tcp",
    latency_ms=4.0,
    cpu_per_rps=0.8,
    base_memory_mib=512.0,
    memory_per_rps_mib=0.3,
    startup_s=4.0,
    commands=("postgres", "docker-entrypoint.sh"),
    default_command=("docker-entrypoint.sh",),
    reads_env={
        "DB_PASSWORD": EnvRule(
            required=True,
            exit_code=1,
            crash_log=(
                "Error: Database is uninitialized and superuser password is not specified.",
                "       You must specify DB_PASSWORD to a non-empty value for the superuser.",
            ),
        ),
        "MAX_CONNECTIONS": EnvRule(
            default="100",
            int_range=(1, 10000),
            exit_code=1,
            crash_log=('{ts} UTC [1] FATAL:  invalid value for parameter "max_connections": "{value}"',),
        ),
    },
    needs_password_env="DB_PASSWORD",
    max_connections_env="MAX_CONNECTIONS",
    default_max_connections=100,
    log_lines=_DB_LOGS,
)

# --- cache (a Redis-like cache) ---------------------------------------------------------------
_CACHE_LOGS = LogTemplates(
    startup=(
        "1:C {ts} # Redis version={version}, bits=64, pid=1, just started",
        "1:M {ts} * Ready to accept connections tcp",
    ),
    info=("1:M {ts} * 1 changes in 3600 seconds. Saving...",),
    error=("1:M {ts} # Client authentication failed: WRONGPASS invalid username-password pair",),
    shutdown=("1:M {ts} # User requested shutdown...",),
)
_CACHE = ImageProfile(
    service="cache",
    port=6379,
    readiness_path=None,
    liveness_path=None,
    protocol="tcp",
    latency_ms=1.0,
    cpu_per_rps=0.2,
    base_memory_mib=64.0,
    memory_per_rps_mib=0.05,
    startup_s=1.0,
    commands=("redis-server", "docker-entrypoint.sh"),
    default_command=("redis-server",),
    reads_env={
        "CACHE_PASSWORD": EnvRule(required=True, exit_code=1, crash_log=("1:C {ts} # FATAL: {detail}",))
    },
    needs_password_env="CACHE_PASSWORD",
    log_lines=_CACHE_LOGS,
)

# --- queue (a RabbitMQ-like broker) -----------------------------------------------------------
_QUEUE = ImageProfile(
    service="queue",
    port=5672,
    readiness_path=None,
    liveness_path=None,
    protocol="tcp",
    latency_ms=2.0,
    cpu_per_rps=0.3,
    base_memory_mib=160.0,
    startup_s=3.0,
    commands=("rabbitmq-server", "docker-entrypoint.sh"),
    default_command=("rabbitmq-server",),
    log_lines=LogTemplates(
        startup=(
            "{ts} [info] <0.230.0> Starting broker {version}",
            "{ts} [info] <0.512.0> started TCP listener on [::]:{port}",
            "{ts} [info] <0.230.0> Server startup complete; 0 plugins started.",
        ),
        info=(
            "{ts} [info] <0.812.0> accepting AMQP connection <0.812.0> (10.0.0.12:52314 -> 10.0.0.9:{port})",
        ),
        error=("{ts} [error] <0.812.0> closing AMQP connection: connection_closed_abruptly",),
    ),
)

# --- ingest-worker (queue consumer) -----------------------------------------------------------
_WORKER_LOGS = LogTemplates(
    startup=(
        _json("info", "ingest-worker starting", '"version":"{version}"'),
        _json("info", "connected to queue, consuming", '"queue":"{QUEUE_NAME}"'),
    ),
    info=(_json("info", "batch ingested", '"messages":50,"latency_ms":{latency_ms}'),),
    error=(
        _json("warn", "consumer heartbeat missed: no message acknowledged for 30s"),
        _json("error", "deadlock detected in batch writer; consumer thread blocked"),
    ),
    upstream_error=_HTTP_UPSTREAM_ERRORS,
)
_WORKER = ImageProfile(
    service="ingest-worker",
    port=9090,
    readiness_path="/ready",
    liveness_path="/healthz",
    latency_ms=30.0,
    cpu_per_rps=3.0,
    base_memory_mib=200.0,
    startup_s=3.0,
    commands=("ingest-worker", "python"),
    default_command=("ingest-worker",),
    reads_env={
        "QUEUE_NAME": EnvRule(required=True, exit_code=2, crash_log=(_json("fatal", "{detail}"),)),
        "POOL_SIZE": EnvRule(
            default="8",
            int_range=(1, 64),
            exit_code=2,
            crash_log=(_json("fatal", "invalid POOL_SIZE: {detail}"),),
        ),
        "QUEUE_URL": EnvRule(required=True, exit_code=2, crash_log=(_json("fatal", "{detail}"),)),
        "FEATURE_STORE_URL": EnvRule(required=True, exit_code=2, crash_log=(_json("fatal", "{detail}"),)),
        "FEATURE_STORE_PASSWORD": EnvRule(
            required=True, exit_code=2, crash_log=(_json("fatal", "{detail}"),)
        ),
    },
    upstreams={"queue": "QUEUE_URL", "feature-store": "FEATURE_STORE_URL"},
    upstream_password_env={"feature-store": "FEATURE_STORE_PASSWORD"},
    pool_size_env="POOL_SIZE",
    default_pool_size=8,
    consumes_per_s=40.0,
    log_lines=_WORKER_LOGS,
)


def _tag(base: ImageProfile, version: str, **changes: object) -> tuple[str, ImageProfile]:
    repo = base.service
    return f"{REGISTRY}/{repo}:{version}", replace(base, version=version, **changes)  # type: ignore[arg-type]


IMAGES: dict[str, ImageProfile] = dict(
    [
        # api-gateway: 2.6.3 older good, 2.7.0 current good, 2.8.0 bad deploy
        _tag(_GATEWAY, "2.6.3"),
        _tag(_GATEWAY, "2.7.0"),
        _tag(_GATEWAY, "2.8.0", error_ratio=0.30, latency_ms=12.0),
        # predictor: 1.3.2 older good, 1.4.0 current good, 1.5.0 bad deploy, 1.4.1-leak OOM, 1.5.1-slow
        _tag(_PREDICTOR, "1.3.2"),
        _tag(_PREDICTOR, "1.4.0"),
        _tag(_PREDICTOR, "1.5.0", error_ratio=0.35),
        _tag(_PREDICTOR, "1.4.1-leak", memory_growth_mib_per_min=900.0),  # OOM ~35 s after injection
        _tag(_PREDICTOR, "1.5.1-slow", latency_ms=900.0, cpu_per_rps=14.0),
        _tag(
            _PREDICTOR,
            "1.6.0-broken",
            crash_on_start=(1, "ImportError: cannot import name 'FeatureVector' from 'predictor.schema'"),
        ),
        # feature-store
        _tag(_FEATURE_STORE, "14.8"),
        _tag(_FEATURE_STORE, "14.9"),
        # cache
        _tag(_CACHE, "7.0.15"),
        _tag(_CACHE, "7.2.4"),
        _tag(_CACHE, "7.4.0-rc1", crash_on_start=(1, "*** FATAL CONFIG FILE ERROR (Redis 7.4.0) ***")),
        # queue
        _tag(_QUEUE, "3.12.6"),
        _tag(_QUEUE, "3.13.1"),
        # ingest-worker: 2.2.1 older good, 2.3.0 current good, 2.4.0 stalls 8 s after start
        _tag(_WORKER, "2.2.1"),
        _tag(_WORKER, "2.3.0"),
        _tag(_WORKER, "2.4.0", stall_after_s=8.0),  # backlog > 200 ~20 s after injection: alert ~35 s
    ]
)

# The images the platform runs when healthy, and the previous good one (revision history).
CURRENT: dict[str, str] = {
    "api-gateway": f"{REGISTRY}/api-gateway:2.7.0",
    "predictor": f"{REGISTRY}/predictor:1.4.0",
    "feature-store": f"{REGISTRY}/feature-store:14.9",
    "cache": f"{REGISTRY}/cache:7.2.4",
    "queue": f"{REGISTRY}/queue:3.12.6",
    "ingest-worker": f"{REGISTRY}/ingest-worker:2.3.0",
}
PREVIOUS: dict[str, str] = {
    "api-gateway": f"{REGISTRY}/api-gateway:2.6.3",
    "predictor": f"{REGISTRY}/predictor:1.3.2",
    "feature-store": f"{REGISTRY}/feature-store:14.8",
    "cache": f"{REGISTRY}/cache:7.0.15",
    "queue": f"{REGISTRY}/queue:3.13.1",
    "ingest-worker": f"{REGISTRY}/ingest-worker:2.2.1",
}


def image_digest(image: str) -> str:
    """The registry's content digest of a catalog image ``name:tag`` (``sha256:<hex>``), stable
    across runs: what a container status's ``imageID`` carries and what a pinned image names."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def resolve(image: str) -> str | None:
    """The catalog image (``name:tag``) a reference names, as a registry resolves it: ``name:tag``,
    ``name:tag@sha256:...`` (the digest must be that tag's) or ``name@sha256:...``. None: not found."""
    ref = image.strip()
    if "@" not in ref:
        return ref if ref in IMAGES else None
    named, _, digest = ref.partition("@")
    if ":" in named.rsplit("/", 1)[-1]:  # name:tag@digest: the digest wins, and it must match the tag
        return named if named in IMAGES and image_digest(named) == digest else None
    return next((k for k in IMAGES if k.rsplit(":", 1)[0] == named and image_digest(k) == digest), None)


def image_id(image: str) -> str:
    """A running container's ``imageID`` (``repo@sha256:...``), or "" for an image the registry lacks."""
    known = resolve(image)
    return f"{known.rsplit(':', 1)[0]}@{image_digest(known)}" if known else ""


def get_profile(image: str) -> ImageProfile | None:
    """The profile of ``image`` (``name:tag``, or pinned by digest; ``docker.io/`` prefixes are not
    resolved).

    None means the registry does not have it: the kubelet reports ``ErrImagePull``.
    """
    known = resolve(image)
    return IMAGES[known] if known else None


def memory_mib(profile: ImageProfile, uptime_s: float, rps: float) -> float:
    """Working-set memory of one container after ``uptime_s`` seconds serving ``rps`` requests/s."""
    growth = profile.memory_growth_mib_per_min * max(uptime_s, 0.0) / 60.0
    return profile.base_memory_mib + growth + profile.memory_per_rps_mib * max(rps, 0.0)


def cpu_millicores(profile: ImageProfile, rps: float) -> float:
    """CPU a container needs to serve ``rps`` requests/s (before any limit throttles it)."""
    return profile.idle_cpu_millicores + profile.cpu_per_rps * max(rps, 0.0)


def render(template: str, **values: object) -> str:
    """Fill a log template; fields not given render as empty strings (never a KeyError)."""
    return template.format_map(defaultdict(str, {k: str(v) for k, v in values.items()}))


def not_found_message(image: str) -> str:
    """The registry's answer for an image that is not in the catalog, as containerd words it."""
    name, _, tag = image.rpartition(":")
    if not name:
        name, tag = image, "latest"
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {name}:{tag}: not found'
    )
