"""`orchestra sandbox up|down|status|reset`: the demo world and the host that serves its websites."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import typer
from rich.console import Console

from orchestra.cli.common import ConfigOption, err, settings_or_exit
from orchestra.core.settings import OrchestraSettings
from orchestra.sandbox.build import build_sandbox, ensure_built, read_manifest, remove_sandbox
from orchestra.sandbox.host import sandbox_id
from orchestra.sandbox.paths import SandboxPaths

app = typer.Typer(help="The embedded demo world: websites, CRM, warehouse, designs, deployments.", no_args_is_help=True)
out = Console()


def host_state(paths: SandboxPaths) -> dict[str, Any] | None:
    """The running host's pid and URL, or None when it is not running."""
    try:
        state = json.loads(paths.host_state.read_text())
        os.kill(state["pid"], 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return None
    return state


def _serving(url: str) -> str | None:
    """The sandbox the host at `url` serves (see `sandbox_id`), or None when nothing answers there."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        answer = httpx.get(f"{url}/healthz", timeout=1)
        return str(answer.json().get("sandbox") or "another") if answer.status_code == 200 else None
    return None


def start_host(settings: OrchestraSettings, paths: SandboxPaths) -> dict[str, Any]:
    config = settings.sandbox
    if (state := host_state(paths)) is not None:
        return state
    log = (paths.root / "host.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestra.sandbox.host", "--data-dir", str(settings.data_dir),
         "--host", config.host, "--port", str(config.port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline, ours = time.monotonic() + 30, sandbox_id(paths)
    while (serving := _serving(config.base_url)) != ours:
        if process.poll() is not None or time.monotonic() > deadline:
            log_path = paths.root / "host.log"
            held = f"is port {config.port} free?"
            if serving:
                held = (f"port {config.port} is held by the sandbox host of another data folder; stop it, or choose "
                        "another port with ORCHESTRA_SANDBOX__PORT")  # fmt: skip
            err.print(f"[red]the sandbox host did not start[/red]: {held}; see {log_path}")
            process.kill()
            raise typer.Exit(1)
        time.sleep(0.1)
    state = {"pid": process.pid, "url": config.base_url}
    paths.host_state.write_text(json.dumps(state))
    return state


def stop_host(paths: SandboxPaths) -> bool:
    state = host_state(paths)
    if state is None:
        return False
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 10
    while host_state(paths) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(state["pid"], signal.SIGKILL)
    paths.host_state.unlink(missing_ok=True)
    return True


def _counts(manifest: dict[str, Any]) -> str:
    return ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in manifest["counts"].items())


@app.command()
def up(config: ConfigOption = None) -> None:
    """Build the demo world if needed and start the host of its websites and deployments.

    The host listens on `sandbox.host`:`sandbox.port` of the config (127.0.0.1:8780 shipped); override them with
    ORCHESTRA_SANDBOX__HOST / ORCHESTRA_SANDBOX__PORT, e.g. `ORCHESTRA_SANDBOX__PORT=9780 orchestra sandbox up`.

    Example: `orchestra sandbox up`, then open the URL it prints
    """
    settings = settings_or_exit(config)
    paths = SandboxPaths.under(settings.data_dir)
    manifest = ensure_built(paths, settings.sandbox, progress=lambda m: err.print(f"[dim]{m}[/dim]"))
    state = start_host(settings, paths)
    out.print(f"sandbox up: seed {manifest['seed']}; {_counts(manifest)}")
    out.print(f"websites and deployments: {state['url']}/  (data: {paths.root})")


@app.command()
def down(config: ConfigOption = None) -> None:
    """Stop the sandbox host (the world and its state stay on disk).

    Example: `orchestra sandbox down`
    """
    paths = SandboxPaths.under(settings_or_exit(config).data_dir)
    out.print("sandbox host stopped" if stop_host(paths) else "sandbox host was not running")


@app.command()
def status(config: ConfigOption = None) -> None:
    """Say whether the world is built (from which seed) and whether the host runs.

    Example: `orchestra sandbox status`
    """
    settings = settings_or_exit(config)
    paths = SandboxPaths.under(settings.data_dir)
    manifest = read_manifest(paths)
    if manifest is None:
        out.print(f"world: not built (run `orchestra sandbox up`); data dir {paths.root}")
    else:
        stale = "" if manifest["seed"] == settings.sandbox.seed else f" (config asks for seed {settings.sandbox.seed})"
        out.print(f"world: seed {manifest['seed']}{stale}; {_counts(manifest)}")
    state = host_state(paths)
    out.print(f"host: running at {state['url']} (pid {state['pid']})" if state else "host: stopped")
    if state is None and manifest is not None:
        raise typer.Exit(3)


@app.command()
def reset(config: ConfigOption = None) -> None:
    """Throw away the world and everything written to it (CRM changes, deployments), then build it afresh.

    Example: `orchestra sandbox reset`
    """
    settings = settings_or_exit(config)
    paths = SandboxPaths.under(settings.data_dir)
    was_running = stop_host(paths)
    remove_sandbox(paths)
    build_sandbox(paths, settings.sandbox, progress=lambda m: err.print(f"[dim]{m}[/dim]"))
    if was_running:
        start_host(settings, paths)
    out.print(f"sandbox reset: seed {settings.sandbox.seed}{'; host restarted' if was_running else ''}")
