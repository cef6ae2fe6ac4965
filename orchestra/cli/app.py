"""The `orchestra` command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from orchestra.cli.common import ConfigOption, err, settings_or_exit
from orchestra.cli.connect import connect
from orchestra.cli.eval import app as eval_app
from orchestra.cli.models import app as models_app
from orchestra.cli.sandbox import app as sandbox_app
from orchestra.core import tracing
from orchestra.core.settings import runtime_environment

app = typer.Typer(
    help="Orchestra: governed MCP tools for LangGraph agents.\n\n"
    "Example: orchestra gateway --config config/orchestra.yaml --port 8700",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
config_app = typer.Typer(help="Check and document the config file.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(eval_app, name="eval")
app.add_typer(models_app, name="models")
tools_app = typer.Typer(help="List and call tools through a running gateway.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.command()(connect)


@app.command()
def gateway(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default from config: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default from config: 8700).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the pooled MCP gateway until Ctrl-C or SIGTERM, which stop every replica it started.

    Example: `orchestra gateway --port 8700`, then point an MCP client at http://127.0.0.1:8700/pools/NAME/mcp
    """
    from orchestra.core.logs import configure_logging
    from orchestra.gateway.server import serve

    configure_logging(log_level)
    settings = settings_or_exit(config)
    tracing.configure("orchestra-gateway", os.environ)
    gateway_config = settings.gateway.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    raise typer.Exit(serve(gateway_config, runtime_environment(settings, config_path=config), log_level=log_level))


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="The task, in plain words.")],
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this thread; an interrupted run of the same task resumes.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Approve every tool call that changes something.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    config: ConfigOption = None,
    gateway: Annotated[
        str | None,
        typer.Option(
            help="Use a running gateway; by default one is started for this run.", envvar="ORCHESTRA_GATEWAY_URL"
        ),
    ] = None,
) -> None:
    """Run a task: triage, then a workflow or a specialist, through the gateway's real tools.

    Example: `orchestra run "Research copealo.example for our sales call tomorrow"`

    The thread id and the command that resumes the run are printed first, on stderr, so a run stopped at any
    point continues from its last finished step with `--thread`. A failure ends in one paragraph naming the
    cause and that command; set ORCHESTRA_DEBUG=1 to see the traceback as well.

    Exit codes: 0 answered; 1 no answer, or a failure without a code below; 2 config file error;
    3 data directory or file not usable; 4 gateway not answering or refusing; 5 checkpoint store (SQLite or
    Redis) not usable; 130 stopped with Ctrl-C.
    """
    from orchestra.cli.run import run_cli

    settings = settings_or_exit(config)
    environ = runtime_environment(settings, config_path=config)
    raise typer.Exit(run_cli(task, settings, environ, thread=thread, yes=yes, as_json=as_json, gateway=gateway,
                             config=config))  # fmt: skip


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default from config: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default from config: 8800).")] = None,
    gateway: Annotated[
        str | None, typer.Option(help="Use a running gateway; by default one is started inside the server.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the graphs over the LangGraph API (threads, runs, streaming) for langgraph-sdk and agent-chat-ui.

    Example: `orchestra serve --port 8800`, then in Python
    `get_client(url="http://127.0.0.1:8800").runs.wait(None, "supervisor", input={"task": "..."})`

    API keys bound to tenants come from ORCHESTRA_SERVER_KEYS (`acme=KEY1,globex=KEY2`); without keys only a
    loopback address is served. Threads and runs are kept in the data directory (SQLite), or in Redis with REDIS_URL.
    """
    from orchestra.core.logs import configure_logging
    from orchestra.server.auth import AuthConfigError
    from orchestra.server.server import serve as serve_app

    configure_logging(log_level)
    settings = settings_or_exit(config)
    tracing.configure("orchestra-server", os.environ)
    try:
        code = serve_app(
            settings, runtime_environment(settings, config_path=config), host=host or settings.server.host,
            port=settings.server.port if port is None else port, gateway=gateway, log_level=log_level,
        )  # fmt: skip
    except AuthConfigError as exc:
        err.print(f"[red]cannot serve[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def route(
    task: Annotated[str, typer.Argument(help="The task, in plain words.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON object.")] = False,
) -> None:
    """Show where a task would go: domain, complexity, workflow and confidence (no model call, milliseconds).

    Example: `orchestra route --json "Research brurex.example for our sales call tomorrow"`
    """
    import json

    from orchestra.graphs.triage import triage

    decision = triage(task)
    typer.echo(json.dumps(decision.model_dump(exclude={"reasons"})))
    if not as_json:
        for reason in decision.reasons:
            err.print(f"[dim]- {reason}[/dim]", highlight=False)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the config file and list the pools it defines.

    Example: `orchestra config check --config config/orchestra.yaml`
    """
    settings = settings_or_exit(config)
    active, off = settings.gateway.active_pools(runtime_environment(settings))
    for name, pool in settings.gateway.pools.items():
        upstream = "stdio" if pool.is_stdio else "http"
        state = "on" if name in active else f"off ({off[name]})"
        typer.echo(f"{name}: tier={pool.tier} upstream={upstream} session={pool.session} {state}")
    typer.echo("config OK")


@config_app.command("docs")
def config_docs(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if a document is out of date instead of writing.")
    ] = False,
) -> None:
    """Regenerate the field reference inside docs/*.md from the code (type, default, meaning of each field).

    Example: `orchestra config docs --check`
    """
    from orchestra.core.config_docs import update_references

    stale = update_references(Path("docs"), write=not check)
    for path in stale:
        typer.echo(f"{'out of date' if check else 'updated'}: {path}")
    if check and stale:
        raise typer.Exit(1)


GatewayOption = Annotated[str, typer.Option("--gateway", help="Gateway base URL.", envvar="ORCHESTRA_GATEWAY_URL")]


@tools_app.command("list")
def tools_list(
    pool: Annotated[str | None, typer.Option(help="One pool's tools.")] = None,
    tier: Annotated[str | None, typer.Option(help="One tier's tools (web, design, bi, ai).")] = None,
    gateway: GatewayOption = "http://127.0.0.1:8700",
) -> None:
    """List the tools a gateway endpoint offers, with their safety annotations.

    Example: `orchestra tools list --pool everything`
    """
    import asyncio

    from rich.table import Table

    from orchestra.tools.gateway_client import auth_headers, endpoint_url, list_tools

    tools = _gateway_call(asyncio.run, list_tools(endpoint_url(gateway, pool, tier), auth_headers()))
    table = Table("tool", "read-only", "idempotent", "description")
    for tool in tools:
        hints = tool.annotations
        table.add_row(
            tool.name,
            "yes" if hints and hints.readOnlyHint else "no",
            "yes" if hints and hints.idempotentHint else "no",
            (tool.description or "").split("\n")[0][:70],
        )
    Console().print(table)


@tools_app.command("call")
def tools_call(
    tool: Annotated[str, typer.Argument(help="Tool name as the endpoint lists it.")],
    arguments: Annotated[str, typer.Argument(help="Arguments as a JSON object.")] = "{}",
    pool: Annotated[str | None, typer.Option(help="Call through this pool's endpoint.")] = None,
    tier: Annotated[str | None, typer.Option(help="Call through this tier's endpoint.")] = None,
    gateway: GatewayOption = "http://127.0.0.1:8700",
    max_chars: Annotated[int, typer.Option(help="Cut the printed result after this many characters; 0 for all.")] = 0,
) -> None:
    """Call one tool through the gateway and print its result.

    Example: `orchestra tools call echo '{"message": "hello"}' --pool everything`
    """
    import asyncio
    import json

    from orchestra.tools.gateway_client import auth_headers, call_tool, endpoint_url, result_text

    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as exc:
        err.print(f'[red]arguments are not JSON[/red] ({exc.msg}); write them like \'{{"key": "value"}}\'')
        raise typer.Exit(2) from None
    if not isinstance(parsed, dict):
        err.print('[red]arguments must be a JSON object[/red], like \'{"key": "value"}\'')
        raise typer.Exit(2)
    result = _gateway_call(asyncio.run, call_tool(endpoint_url(gateway, pool, tier), tool, parsed, auth_headers()))
    text = result_text(result)
    if max_chars and len(text) > max_chars:
        text = f"{text[:max_chars]}\n... ({len(text) - max_chars} more characters)"
    typer.echo(text)
    if result.isError:
        raise typer.Exit(1)


@app.command()
def status(gateway: GatewayOption = "http://127.0.0.1:8700") -> None:
    """Show a running gateway's pools and replicas (from /admin/pools).

    Example: `orchestra status --gateway http://127.0.0.1:8700`
    """
    import httpx
    from rich.table import Table

    from orchestra.tools.gateway_client import auth_headers

    try:
        response = httpx.get(f"{gateway.rstrip('/')}/admin/pools", headers=auth_headers(), timeout=10)
    except httpx.TransportError:
        err.print("[red]no gateway answers there[/red]; start one with `orchestra gateway` or pass --gateway URL")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        err.print(
            f"[red]gateway answered HTTP {response.status_code}[/red]; set ORCHESTRA_GATEWAY_KEY if it needs a key"
        )
        raise typer.Exit(1)
    described = response.json()
    table = Table("pool", "status", "tier", "session", "replica", "state", "pid / url", "in flight", "restarts",
                  "server")  # fmt: skip
    for name, pool in described["pools"].items():
        for replica in pool["replicas"] or [{}]:
            table.add_row(
                name, pool["status"], pool["tier"], pool["session"], replica.get("name", "-"),
                replica.get("state", "none"), str(replica.get("pid") or replica.get("url") or "-"),
                str(replica.get("in_flight", 0)), str(replica.get("restarts", 0)), replica.get("server") or "-",
            )  # fmt: skip
    console = Console(width=160)
    console.print(table)
    console.print(f"client sessions: {described['client_sessions']}")
    for name, pool in described["pools"].items():
        if pool["status"] != "ready":
            console.print(f"[yellow]pool {name} is {pool['status']}[/yellow]: {pool['reason'] or 'starting'}")


def _gateway_call(run: Any, coroutine: Any) -> Any:
    """Run a gateway client call; connection and protocol failures become one clear line."""
    import httpx
    from mcp.shared.exceptions import McpError

    try:
        return run(coroutine)
    except Exception as exc:  # the SDK's task groups wrap failures in exception groups: look at the first leaf
        leaf = exc
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        if isinstance(leaf, McpError):
            err.print(f"[red]gateway refused the call[/red]: {leaf.error.message}", highlight=False)
        elif isinstance(leaf, httpx.ConnectError):
            err.print("[red]no gateway answers there[/red]; start one with `orchestra gateway` or pass --gateway URL")
        elif isinstance(leaf, httpx.HTTPStatusError):
            status = leaf.response.status_code
            hint = "set ORCHESTRA_GATEWAY_KEY" if status == 401 else "check --pool / --tier"
            err.print(f"[red]gateway answered HTTP {status}[/red]; {hint}")
        else:
            raise
    raise typer.Exit(1)
