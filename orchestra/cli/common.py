"""What the command groups share: the `--config` option and loading settings with a clear exit on errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from orchestra.core.settings import ConfigError, OrchestraSettings, load_settings

err = Console(stderr=True)
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: config/orchestra.yaml or $ORCHESTRA_CONFIG)."),
]


def settings_or_exit(config: Path | None) -> OrchestraSettings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        # escaped: messages quote patterns such as `^[a-z][a-z0-9-]{0,23}$`, which rich would read as markup
        err.print(f"[red]config error[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
