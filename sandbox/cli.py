"""``devops-agent sandbox ...``: run the simulated market-predictor platform on this machine.

Plugged into the ``devops-agent`` CLI through the ``devops_agent.cli`` entry point; it never imports
``agent``. Typical use::

    devops-agent sandbox up --alert-webhook http://127.0.0.1:8080/alertmanager
    eval "$(devops-agent sandbox env)"
    devops-agent sandbox inject bad-deploy
    devops-agent sandbox heal
    devops-agent sandbox down
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from kubernetes import config as kube_config

from sandbox import faults as fault_catalog
from sandbox import lifecycle
from sandbox.control import ControlClient
from sandbox.lifecycle import DEFAULT_DIR, Ports, SandboxError, SandboxState

app = typer.Typer(
    name="sandbox",
    help="Run the simulated market-predictor platform (Kubernetes API, Prometheus, Alertmanager, Loki).",
    no_args_is_help=True,
)

DirOpt = Annotated[Path, typer.Option("--dir", help="Sandbox directory (state, kubeconfig, logs, data).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    return typer.Exit(1)


def _state(directory: Path) -> SandboxState:
    try:
        return lifecycle.require_state(directory)
    except SandboxError as exc:
        raise _fail(exc) from None


def api_client(state: SandboxState) -> Any:
    """A Kubernetes API client for the sandbox's kubeconfig (the door kubectl uses)."""
    return kube_config.new_client_from_config(config_file=state.kubeconfig)


@app.command()
def up(
    directory: DirOpt = DEFAULT_DIR,
    alert_webhook: Annotated[
        str | None, typer.Option(help="URL Alertmanager sends every alert to (e.g. the agent's webhook).")
    ] = None,
    prometheus_port: Annotated[int, typer.Option(help="Prometheus port (0 = a free port).")] = 0,
    alertmanager_port: Annotated[int, typer.Option(help="Alertmanager port (0 = a free port).")] = 0,
    kube_port: Annotated[int, typer.Option(help="Kubernetes API port (0 = a free port).")] = 0,
    loki_port: Annotated[int, typer.Option(help="Loki API port (0 = a free port).")] = 0,
    metrics_port: Annotated[int, typer.Option(help="Metrics port (0 = a free port).")] = 0,
    control_port: Annotated[int, typer.Option(help="Control API port (0 = a free port).")] = 0,
) -> None:
    """Start the sandbox in the background; returns once every part is healthy."""
    ports = Ports(prometheus_port, alertmanager_port, kube_port, loki_port, metrics_port, control_port)
    typer.echo(f"starting the sandbox in {directory.resolve()}")
    try:
        state = lifecycle.up(directory, alert_webhook=alert_webhook, ports=ports, progress=typer.echo)
    except SandboxError as exc:
        raise _fail(exc) from None
    typer.echo(f"kubeconfig:   {state.kubeconfig}")
    typer.echo(f"prometheus:   {state.prometheus_url}")
    typer.echo(f"alertmanager: {state.alertmanager_url}")
    typer.echo(f"loki:         {state.loki_url}")
    typer.echo(f'point the agent at it: eval "$(devops-agent sandbox env --dir {directory})"')


@app.command()
def down(directory: DirOpt = DEFAULT_DIR) -> None:
    """Stop every process the sandbox started (by pid). Safe to run twice."""
    stopped = lifecycle.down(directory, progress=typer.echo)
    typer.echo("sandbox stopped" if stopped else "no sandbox process was running")


@app.command()
def status(directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Show what runs, its URLs and whether every part is healthy."""
    report = lifecycle.status(directory)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    elif not report["running"]:
        typer.echo(f"no sandbox running in {report['dir']}")
    else:
        typer.echo(f"sandbox in {report['dir']}: {'healthy' if report['healthy'] else 'NOT healthy'}")
        for part, ok in report.get("parts", {}).items():
            typer.echo(f"  {part:<20} {'ok' if ok else 'FAILING'}")
        for key in ("kubeconfig", "prometheus_url", "alertmanager_url", "loki_url"):
            typer.echo(f"  {key:<20} {report[key]}")
    if not report["healthy"]:
        raise typer.Exit(1)


@app.command()
def env(directory: DirOpt = DEFAULT_DIR) -> None:
    """Print the `export DEVOPS_AGENT_...` lines that point the agent at the sandbox."""
    for key, value in _state(directory).env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command("faults")
def list_faults(as_json: JsonOpt = False) -> None:
    """The fault catalog, with ground truth (root cause, expected alerts, mitigations, forbidden actions)."""
    items = fault_catalog.catalog()
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for item in items:
        targets = ", ".join(item["targets"]) if item["targets"] else "any"
        typer.echo(f"{item['name']:<18} {item['description']}")
        typer.echo(
            f"{'':<18} default target {item['target'] or '-'} (targets: {targets}); "
            f"alerts: {', '.join(item['expected_alerts']) or 'none'}"
        )


@app.command()
def inject(
    fault: Annotated[str, typer.Argument(help="Fault name (see `sandbox faults`).")],
    target: Annotated[str | None, typer.Option(help="Workload, service or node to break.")] = None,
    directory: DirOpt = DEFAULT_DIR,
) -> None:
    """Inject a fault through the Kubernetes API (traffic-surge: through the control API)."""
    state = _state(directory)
    try:
        spec = fault_catalog.get_fault(fault, target)
        record = fault_catalog.inject(api_client(state), spec, ControlClient(state.control_url))
    except (ValueError, ConnectionError, RuntimeError) as exc:
        raise _fail(exc) from None
    changed = [f"{u['resource']}/{u['name']}: {', '.join(u['changed'])}" for u in record["undo"]]
    typer.echo(f"injected {spec.name} on {spec.target or '-'}")
    for line in changed:
        typer.echo(f"  changed {line}")
    if spec.surge is not None:
        typer.echo(
            f"  traffic surge x{spec.surge.multiplier:g} on {spec.surge.namespace}/{spec.surge.service}"
        )
    typer.echo(f"  expect alerts: {', '.join(spec.expected_alerts) or 'none'}")


@app.command()
def heal(directory: DirOpt = DEFAULT_DIR) -> None:
    """Undo every injected fault through the Kubernetes API."""
    state = _state(directory)
    control = ControlClient(state.control_url)
    try:
        records = control.active_faults()
        lines = fault_catalog.heal(api_client(state), records, control)
    except (ConnectionError, RuntimeError) as exc:
        raise _fail(exc) from None
    for line in lines or ["nothing to heal"]:
        typer.echo(line)


@app.command()
def reset(directory: DirOpt = DEFAULT_DIR) -> None:
    """Back to the seeded state: objects re-applied from the seed, traffic surges cleared."""
    state = _state(directory)
    try:
        result = ControlClient(state.control_url).reset()
    except (ConnectionError, RuntimeError) as exc:
        raise _fail(exc) from None
    objects = result["objects"]
    typer.echo(
        f"reset: {objects['updated']} objects restored, {objects['created']} re-created, "
        f"{objects['deleted']} deleted; {result['surges_cleared']} surges cleared"
    )


@app.command()
def load(
    service: Annotated[str | None, typer.Option(help="Service to send extra load to.")] = None,
    multiplier: Annotated[float, typer.Option(help="Load multiplier (4 = four times the baseline).")] = 4.0,
    route: Annotated[str | None, typer.Option(help="Only this route (default: all).")] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds the surge lasts (default: until cleared).")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Namespace of the service.")] = "market-predictor",
    clear: Annotated[bool, typer.Option("--clear", help="Remove every surge.")] = False,
    directory: DirOpt = DEFAULT_DIR,
) -> None:
    """Set a traffic surge on a service (the one input that is not a Kubernetes object)."""
    control = ControlClient(_state(directory).control_url)
    try:
        if clear:
            result = control.clear_traffic()
            typer.echo(f"cleared {result['removed']} surges")
            return
        if not service:
            raise ValueError("give --service NAME (and --multiplier X), or --clear")
        control.surge(service, multiplier, namespace=namespace, route=route, duration_s=duration)
    except (ValueError, ConnectionError, RuntimeError) as exc:
        raise _fail(exc) from None
    typer.echo(
        f"surge x{multiplier:g} on {namespace}/{service}{' ' + route if route else ''}"
        f"{f' for {duration:g}s' if duration else ''}"
    )
