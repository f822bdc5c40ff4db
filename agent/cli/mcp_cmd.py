"""`devops-agent mcp`: the agent's tools, guarded, for any MCP client (stdio or streamable HTTP)."""

from __future__ import annotations

from typing import Literal

import typer

from agent.cli import app
from agent.cli.common import err_console, fail, settings, whoami

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command("mcp")
def mcp_cmd(
    transport: str = typer.Option(
        "stdio", "--transport", "-t", help="stdio (one client) or http (streamable HTTP)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address of the http transport."),
    port: int = typer.Option(8765, "--port", help="Listen port of the http transport (endpoint /mcp)."),
) -> None:
    """Serve the read tools and the guarded actions over the Model Context Protocol.

    Actions pass the same dry run, policy, approvals and audit as the agent's own: a change the policy
    holds for a human returns an approval id (decide it with `devops-agent approvals approve`), and
    nothing changes until then.
    """
    if transport not in ("stdio", "http"):
        fail(f"--transport must be stdio or http, not {transport!r}")
    mode: Literal["stdio", "http"] = "stdio" if transport == "stdio" else "http"
    import anyio

    from agent.deps import build_deps
    from agent.mcp_calls import GuardedCalls
    from agent.mcp_server import build_server, require_bearer, serve_stdio

    cfg = settings()
    calls = GuardedCalls(build_deps(cfg), actor=f"mcp:{whoami().removeprefix('cli:')}")
    server = build_server(calls)
    if mode == "stdio":  # stdout is the protocol: everything else goes to stderr
        err_console.print(
            f"devops-agent MCP server on stdio (audit session {calls.session_id})", soft_wrap=True
        )
        anyio.run(serve_stdio, server)
        return
    import uvicorn

    token = cfg.api_token.get_secret_value() if cfg.api_token else None
    if token is None and host not in LOOPBACK:
        fail(
            f"--host {host} is not loopback: set DEVOPS_AGENT_API_TOKEN, clients then send it as a Bearer token"
        )
    web = server.streamable_http_app(host=host)
    if token is not None:
        web = require_bearer(web, token)
    else:
        err_console.print(
            "[yellow]warning:[/] DEVOPS_AGENT_API_TOKEN is not set: any local process may call the tools"
        )
    err_console.print(
        f"devops-agent MCP server on http://{host}:{port}/mcp (audit session {calls.session_id})",
        soft_wrap=True,
    )
    uvicorn.run(web, host=host, port=port, log_level="warning")
