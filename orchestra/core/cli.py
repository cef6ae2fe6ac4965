"""The `orchestra` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestra.core.settings import ConfigError, OrchestraSettings, load_settings

app = typer.Typer(
    help="Orchestra: governed MCP tools for LangGraph agents.\n\n"
    "Example: orchestra gateway --config config/orchestra.yaml --port 8700",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
config_app = typer.Typer(help="Check and document the config file.", no_args_is_help=True)
app.add_typer(config_app, name="config")
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: config/orchestra.yaml or $ORCHESTRA_CONFIG)."),
]


def _settings(config: Path | None) -> OrchestraSettings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


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
    settings = _settings(config)
    gateway_config = settings.gateway.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    raise typer.Exit(serve(gateway_config, log_level=log_level))


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the config file and list the pools it defines.

    Example: `orchestra config check --config config/orchestra.yaml`
    """
    settings = _settings(config)
    for name, pool in settings.gateway.pools.items():
        upstream = "stdio" if pool.is_stdio else "http"
        typer.echo(f"{name}: tier={pool.tier} upstream={upstream} session={pool.session} enabled={pool.enabled}")
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
