"""`orchestra run`: the thread and its resume command first, live progress on stderr, approval prompts, the answer
on stdout, the report saved; a failure ends in one paragraph naming the cause and the command that resumes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.prompt import Prompt

from orchestra.cli.run_failures import EXIT_NO_ANSWER, RunFacts, describe_failure, redact
from orchestra.core.checkpoint import open_checkpointer
from orchestra.core.llm import usage_line
from orchestra.core.settings import OrchestraSettings
from orchestra.gateway.server import embedded_gateway
from orchestra.graphs.runner import new_thread_id, run_task
from orchestra.tools.gateway_client import auth_headers

err = Console(stderr=True)
T = TypeVar("T")


def run_cli(
    task: str, settings: OrchestraSettings, environ: dict[str, str], *, thread: str | None, yes: bool,
    as_json: bool, gateway: str | None, config: Path | None,
) -> int:  # fmt: skip
    """The whole command: print the thread and how to resume it, run, and turn any failure into one paragraph."""
    if not task.strip():
        _say('[red]error:[/red] the task is empty; say what to do, e.g. orchestra run "Research copealo.example"')
        return EXIT_NO_ANSWER
    thread_id = thread or new_thread_id()
    options = [*(["--config", str(config)] if config else []), *(["--gateway", gateway] if gateway else []),
               *(["--yes"] if yes else []), *(["--json"] if as_json else [])]  # fmt: skip
    run = RunFacts(
        thread_id=thread_id, resume=shlex.join(["orchestra", "run", task, "--thread", thread_id, *options]),
        data_dir=settings.data_dir, redis_url=environ.get("REDIS_URL") or None, gateway=gateway,
        embedded=gateway is None,
    )  # fmt: skip
    _say(f"[dim]thread {thread_id}; if this run stops, resume it with: {escape(run.resume)}[/dim]")
    try:
        return asyncio.run(_stopped_by_ctrl_c(_run_command(task, settings, environ, run, yes=yes, as_json=as_json)))
    except (Exception, KeyboardInterrupt) as exc:
        if environ.get("ORCHESTRA_DEBUG") == "1":
            traceback.print_exception(exc)
        code, cause = describe_failure(exc, run)
        if run.asking:  # stopped at a prompt: the paragraph starts on a line of its own
            err.print()
        _say(f"[red]error:[/red] {escape(redact(cause, environ))} Resume with: {escape(run.resume)}")
        return code


def _say(markup: str) -> None:
    """One line on stderr, never wrapped: the resume command stays copyable from a log."""
    err.print(markup, soft_wrap=True, highlight=False)


async def _stopped_by_ctrl_c(work: Coroutine[Any, Any, int]) -> int:
    """`work`, which Ctrl-C cancels, and cancels again every half second until it has stopped: a cancellation that
    lands inside a library's own cancel scope can be absorbed (anyio), and a run must never outlive Ctrl-C
    (asyncio.run cancels only once)."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    pressed = False

    def stop() -> None:
        nonlocal pressed
        pressed = True
        if main is not None and not main.done():
            main.cancel()
            loop.call_later(0.5, stop)

    loop.add_signal_handler(signal.SIGINT, stop)
    try:
        return await work
    except asyncio.CancelledError:
        if pressed:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _run_command(
    task: str, settings: OrchestraSettings, environ: dict[str, str], run: RunFacts, *, yes: bool, as_json: bool
) -> int:
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        # The checkpoints first: a data directory that cannot be written fails before any pool starts.
        checkpointer = await stack.enter_async_context(open_checkpointer(settings.data_dir, run.redis_url))
        if run.gateway is None:
            err.print("[dim]starting the gateway for this run...[/dim]")
            run.gateway = await stack.enter_async_context(embedded_gateway(settings.gateway, environ))
        result = await run_task(
            task, settings=settings, environ=environ, gateway_url=run.gateway, checkpointer=checkpointer,
            thread_id=run.thread_id, progress=_progress(started, run), approve=_approver(yes, run),
            headers=auth_headers(),
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
        _say(f"[dim]thread {result.thread_id}; report saved to {result.report_path}; "
             f"{time.monotonic() - started:.1f}s; {usage_line(result.usage)}[/dim]")  # fmt: skip
    return 0 if result.answer else EXIT_NO_ANSWER


def _progress(started: float, run: RunFacts) -> Any:
    def show(kind: str, data: dict[str, Any]) -> None:
        elapsed = f"[dim]{time.monotonic() - started:6.1f}s[/dim]"
        if kind == "triage":
            workflow = data.get("workflow") or "specialist"
            err.print(f"{elapsed} triage: {data['domain']}/{data['complexity']} -> {workflow} "
                      f"(confidence {data['confidence']:.2f})")  # fmt: skip
        elif kind == "follow_up":
            err.print(f"{elapsed} follow-up: {data['resolved']} -> {data['task']}", highlight=False)
        elif kind == "tool":
            run.tools_answered = True
            status = "ok" if data["ok"] else "[red]failed[/red]"
            took = f"reused {data['reused']}" if data.get("reused") else f"{data['duration_ms']:.0f} ms"
            err.print(f"{elapsed}   {data['id']} {data['tool']} {status} ({took})")
        elif kind == "resume":
            err.print(f"{elapsed} resuming the interrupted run at {', '.join(data['next'])}")
        elif kind == "choice":
            err.print(f"{elapsed} [yellow]question[/yellow]: {data['question']} {', '.join(data['options'])}")
        elif kind == "approval":
            err.print(
                f"{elapsed} [yellow]approval needed[/yellow]: {data.get('tool')} {json.dumps(data.get('arguments'))}"
            )

    return show


def _approver(yes: bool, run: RunFacts) -> Any:
    async def approve(request: dict[str, Any]) -> dict[str, Any]:
        if request.get("kind") == "choice" and yes:
            err.print("--yes approves changes but never chooses for you: name the one you mean in the task")
            return {"choice": ""}
        if yes:
            return {"action": "approve", "by": "the --yes flag"}
        run.asking = request.get("kind", "approval")
        answer = await _in_daemon_thread(lambda: _ask(request))
        run.asking = None
        return answer

    return approve


def _ask(request: dict[str, Any]) -> dict[str, Any]:
    stdin: Any = _StdinLines()
    if request.get("kind") == "choice":
        options = [str(o) for o in request["options"]]
        return {"choice": Prompt.ask(request["question"], choices=options, console=err, stream=stdin)}
    answer = Prompt.ask("approve, edit or reject?", choices=["approve", "edit", "reject"], default="reject",
                        console=err, stream=stdin)  # fmt: skip
    if answer != "edit":
        return {"action": answer}
    while True:  # until the edit parses as a JSON object of arguments
        edited = Prompt.ask("arguments as JSON", default=json.dumps(request.get("arguments")), console=err,
                            stream=stdin)  # fmt: skip
        try:
            arguments = json.loads(edited)
        except ValueError as exc:
            example = json.dumps(request.get("arguments"))
            err.print(f"[red]not JSON[/red] ({exc}); type the arguments again, e.g. {example}", highlight=False)
            continue
        if isinstance(arguments, dict):
            return {"action": "edit", "arguments": arguments}
        err.print("[red]the arguments must be a JSON object[/red] ({...}); type them again")


class _StdinLines:
    """Lines from standard input read straight from its file descriptor, a byte at a time: no buffer is locked
    while the prompt's thread waits (Python aborts at exit on a buffer a daemon thread holds), and nothing is read
    past the line, so the next prompt gets the next line. An answer piped in is echoed, as a terminal would."""

    def readline(self) -> str:
        if sys.stdin is None:
            raise EOFError("there is no standard input")
        fd, line = sys.stdin.fileno(), bytearray()
        while not line.endswith(b"\n") and (byte := os.read(fd, 1)):
            line += byte
        if not line:
            raise EOFError("standard input is closed")
        answer = line.decode(errors="replace")
        if not os.isatty(fd):
            err.print(answer.rstrip("\n"), markup=False, highlight=False)
        return answer


async def _in_daemon_thread(ask: Callable[[], T]) -> T:
    """`ask()` (a blocking prompt) off the event loop, in a daemon thread: Ctrl-C while it waits stops the run at
    once, where the default executor would keep the process alive until the prompt got its line."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        if not answered.done():
            outcome()

    def work() -> None:
        try:
            value = ask()
        except BaseException as exc:  # the prompt's EOFError and the like go to the waiting coroutine
            error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(deliver, lambda: answered.set_exception(error))
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, lambda: answered.set_result(value))

    threading.Thread(target=work, name="approval prompt", daemon=True).start()
    return await answered
