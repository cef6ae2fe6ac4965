"""`orchestra run`: live progress on stderr, approval prompts, the answer on stdout, the report saved."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.prompt import Prompt

from orchestra.core.checkpoint import open_checkpointer
from orchestra.core.settings import OrchestraSettings
from orchestra.gateway.server import embedded_gateway
from orchestra.graphs.runner import run_task
from orchestra.tools.gateway_client import auth_headers

err = Console(stderr=True)


def _progress(started: float) -> Any:
    def show(kind: str, data: dict[str, Any]) -> None:
        elapsed = f"[dim]{time.monotonic() - started:6.1f}s[/dim]"
        if kind == "triage":
            workflow = data.get("workflow") or "specialist"
            err.print(f"{elapsed} triage: {data['domain']}/{data['complexity']} -> {workflow} "
                      f"(confidence {data['confidence']:.2f})")  # fmt: skip
        elif kind == "tool":
            status = "ok" if data["ok"] else "[red]failed[/red]"
            err.print(f"{elapsed}   {data['id']} {data['tool']} {status} ({data['duration_ms']:.0f} ms)")
        elif kind == "resume":
            err.print(f"{elapsed} resuming the interrupted run at {', '.join(data['next'])}")
        elif kind == "approval":
            err.print(
                f"{elapsed} [yellow]approval needed[/yellow]: {data.get('tool')} {json.dumps(data.get('arguments'))}"
            )

    return show


async def _approver(yes: bool) -> Any:
    async def approve(request: dict[str, Any]) -> dict[str, Any]:
        if yes:
            return {"action": "approve"}
        answer = Prompt.ask("approve, edit or reject?", choices=["approve", "edit", "reject"], default="reject",
                            console=err)  # fmt: skip
        if answer == "edit":
            edited = Prompt.ask("arguments as JSON", default=json.dumps(request.get("arguments")), console=err)
            return {"action": "edit", "arguments": json.loads(edited)}
        return {"action": answer}

    return approve


async def run_command(
    task: str, settings: OrchestraSettings, environ: dict[str, str], *, thread: str | None, yes: bool,
    as_json: bool, gateway: str | None,
) -> int:  # fmt: skip
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        if gateway is None:
            err.print("[dim]starting the gateway for this run...[/dim]")
            gateway = await stack.enter_async_context(embedded_gateway(settings.gateway, environ))
        checkpointer = await stack.enter_async_context(
            open_checkpointer(settings.data_dir, environ.get("REDIS_URL") or None)
        )
        result = await run_task(
            task, settings=settings, environ=environ, gateway_url=gateway, checkpointer=checkpointer,
            thread_id=thread, progress=_progress(started), approve=await _approver(yes), headers=auth_headers(),
        )  # fmt: skip
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        if sys.stdout.isatty():
            Console().print(Markdown(result.answer))
        else:  # piped or saved: the Markdown itself
            print(result.answer)
        for flag in result.flags:
            err.print(f"[yellow]cross-check:[/yellow] {flag}")
        err.print(f"[dim]thread {result.thread_id}; report saved to {result.report_path}; "
                  f"{time.monotonic() - started:.1f}s; model calls: {result.usage['calls']}[/dim]")  # fmt: skip
    return 0 if result.answer else 1
