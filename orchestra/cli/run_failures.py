"""Why `orchestra run` failed, in plain words: one translation from any exception to an exit code and a message
that names the cause and what to do, with secrets taken out."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from mcp.shared.exceptions import McpError
from redis.exceptions import RedisError

from orchestra.core.checkpoint import SQLITE_FILE, CheckpointerError, redact_url

# Exit codes, as `orchestra run --help` documents them.
EXIT_NO_ANSWER = 1  # also any failure without a code of its own
EXIT_FILES = 3
EXIT_GATEWAY = 4
EXIT_CHECKPOINTS = 5
EXIT_STOPPED = 130  # the shell's code for Ctrl-C


@dataclass
class RunFacts:
    """What a failure message needs to know about the run it ends."""

    thread_id: str
    resume: str  # the command that continues this run
    data_dir: Path
    redis_url: str | None
    gateway: str | None  # None until the embedded gateway has started
    embedded: bool
    tools_answered: bool = False  # a tool call went through the gateway in this process
    asking: str | None = None  # the kind of question ("approval", "choice") a prompt waits on, cursor after it


def describe_failure(exc: BaseException, run: RunFacts) -> tuple[int, str]:
    """The exit code and one or two sentences for a failed run: what happened, to what, and what to do."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_STOPPED, f"The run was stopped (Ctrl-C); the steps it finished are saved on thread {run.thread_id}."
    cause = _real_cause(exc)
    if isinstance(cause, CheckpointerError):
        return EXIT_CHECKPOINTS, str(cause)
    if isinstance(cause, RedisError):
        where = redact_url(run.redis_url) if run.redis_url else "Redis"
        return EXIT_CHECKPOINTS, (
            f"The checkpoint store at REDIS_URL={where} stopped answering during the run ({_brief(cause)}). "
            "Start Redis again or fix REDIS_URL."
        )
    if isinstance(cause, sqlite3.Error):
        return EXIT_CHECKPOINTS, (
            f"The checkpoint store {run.data_dir / SQLITE_FILE} cannot be used ({_brief(cause)}). It must be a "
            "SQLite file Orchestra can write, in a writable data directory: fix it, or set ORCHESTRA_DATA_DIR to "
            "another folder."
        )
    if isinstance(cause, httpx.HTTPError | McpError):
        return EXIT_GATEWAY, _gateway_failure(cause, run)
    if isinstance(cause, EOFError) and run.asking == "choice":
        return EXIT_NO_ANSWER, (
            "The run stopped at a question (which of several names you meant) because its input is closed (no "
            "terminal to answer on). Name the one you mean exactly in the task, run it in a terminal to choose, or "
            "use `orchestra serve`, where an API or chat client answers."
        )
    if isinstance(cause, EOFError):
        return EXIT_NO_ANSWER, (
            "The run stopped at an approval question because its input is closed (no terminal to answer on). "
            "Run it in a terminal to answer, add --yes to approve every change, or use `orchestra serve`, where an "
            "API or chat client answers approvals."
        )
    if isinstance(cause, OSError) and cause.filename:
        return EXIT_FILES, _file_failure(cause, run.data_dir)
    return EXIT_NO_ANSWER, (
        f"The run failed: {type(cause).__name__}: {_brief(cause)}. Set ORCHESTRA_DEBUG=1 to see the traceback."
    )


def _real_cause(exc: BaseException) -> BaseException:
    """The exception that says what went wrong: inside the exception groups anyio's task groups raise, the first
    failure that is not a cancellation, and behind a wrapper, the error it was raised from."""
    leaves = list(_leaves(exc))
    cause = next((e for e in leaves if not isinstance(e, asyncio.CancelledError)), leaves[0] if leaves else exc)
    known = (CheckpointerError, RedisError, sqlite3.Error, httpx.HTTPError, McpError, OSError, EOFError)
    seen: set[int] = set()
    while not isinstance(cause, known) and cause.__cause__ is not None and id(cause) not in seen:
        seen.add(id(cause))
        cause = cause.__cause__
    return cause


def _leaves(exc: BaseException) -> Any:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _gateway_failure(cause: BaseException, run: RunFacts) -> str:
    gateway = (
        f"the gateway this run started ({run.gateway})" if run.embedded else f"the gateway at {run.gateway or '?'}"
    )
    if isinstance(cause, McpError):
        return f"{gateway.capitalize()} refused a request: {_brief(cause)}."
    if isinstance(cause, httpx.HTTPStatusError):
        status = cause.response.status_code
        fix = (
            "set ORCHESTRA_GATEWAY_KEY to a key the gateway accepts"
            if status in (401, 403)
            else "check that --gateway points at an Orchestra gateway"
        )
        return f"{gateway.capitalize()} answered HTTP {status} to {cause.request.url.path}. Fix: {fix}."
    when = "stopped answering during the run" if run.tools_answered else "is not answering"
    kind = {
        httpx.ConnectError: "could not connect",
        httpx.TimeoutException: "timed out",
        httpx.RemoteProtocolError: "the connection was dropped",
        httpx.ReadError: "the connection was dropped",
    }
    what = next((text for cls, text in kind.items() if isinstance(cause, cls)), type(cause).__name__)
    fix = (
        "Run it again; if it fails again, set ORCHESTRA_DEBUG=1 to see why the embedded gateway stopped."
        if run.embedded
        else "Start it again (`orchestra gateway`) or pass --gateway with the URL of one that runs."
    )
    return f"{gateway.capitalize()} {when} ({what}: {_brief(cause)}). {fix}"


def _file_failure(cause: OSError, data_dir: Path) -> str:
    path = Path(os.fsdecode(cause.filename))
    problem = f"{cause.strerror or type(cause).__name__}: {path}"
    blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if isinstance(cause, NotADirectoryError | FileExistsError) and blocking is not None:
        problem = f"{blocking} is a file, not a folder"
    state = "is not writable" if cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else "cannot be used"
    if path == data_dir or data_dir in path.parents:
        return (
            f"The data directory {data_dir} {state} ({problem}). Point ORCHESTRA_DATA_DIR (or data_dir: in the "
            "config) at a folder you can write, or fix its permissions."
        )
    return f"The file {path} {state} ({problem}). Fix the path or its permissions."


def _brief(exc: BaseException) -> str:
    """The exception's message on one line, cut to a readable length."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else f"{text[:297]}..."


_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)


def redact(text: str, environ: dict[str, str]) -> str:
    """`text` without the values of secret-looking environment variables or passwords in URLs."""
    for name, value in environ.items():
        if _SECRET_NAME.search(name):
            for secret in (value, *value.split(",")):  # a list of keys, as ORCHESTRA_GATEWAY_KEYS holds
                if len(secret.strip()) >= 6:
                    text = text.replace(secret.strip(), "***")
    return _URL_PASSWORD.sub(r"\1***@", text)
