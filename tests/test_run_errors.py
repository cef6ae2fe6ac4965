"""`orchestra run` when something fails: the thread and its resume command come first, the failure ends in one
paragraph naming the cause and that command, and the command really resumes the run."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestra.core.settings import load_settings
from orchestra.sandbox.build import build_sandbox
from orchestra.sandbox.config import SandboxConfig
from orchestra.sandbox.paths import SandboxPaths
from tests.conftest import ROOT, free_port
from tests.gateway_process import gateway_process

SALES_TASK = "Research copealo.example for our sales call tomorrow"
DEPLOY_TASK = "Build and deploy the pricing page from the Figma design"
FIRST_LINE = re.compile(r"^thread (\S+); if this run stops, resume it with: (orchestra run .+)$")


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ORCHESTRA_DEBUG", "ORCHESTRA_GATEWAY_KEY")}
    return {**env, "ORCHESTRA_DATA_DIR": str(data_dir), **extra}


def orchestra_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestra", "run", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def announced(stderr: str) -> tuple[str, str]:
    """The thread id and resume command from the run's first line."""
    found = FIRST_LINE.match(stderr.splitlines()[0])
    assert found, stderr
    return found[1], found[2]


def assert_one_paragraph_ending_in(stderr: str, resume: str) -> str:
    """The failure is the last line, it ends in the resume command, and no traceback comes before it."""
    lines = stderr.splitlines()
    assert "Traceback" not in stderr, stderr
    assert len(lines) <= 10, stderr
    assert lines[-1].startswith("error: "), stderr
    assert lines[-1].endswith(f"Resume with: {resume}"), stderr
    return lines[-1]


def test_a_data_directory_that_cannot_be_written_is_named_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "in-the-way").write_text("a file where the data directory's parent should be\n")
    data_dir = tmp_path / "in-the-way" / "orchestra"  # fails for root too, where chmod would not
    result = orchestra_run(SALES_TASK, env=environment(data_dir))
    assert result.returncode == 3, result.stderr
    thread, resume = announced(result.stderr)
    assert resume == f"orchestra run '{SALES_TASK}' --thread {thread}"
    error = assert_one_paragraph_ending_in(result.stderr, resume)
    assert f"The data directory {data_dir} cannot be used ({tmp_path / 'in-the-way'} is a file" in error
    assert "ORCHESTRA_DATA_DIR" in error
    assert "starting the gateway" not in result.stderr  # it failed before starting any pool


def test_a_gateway_that_does_not_answer_is_named_with_the_resume_command(tmp_path: Path) -> None:
    gateway = f"http://127.0.0.1:{free_port()}"
    result = orchestra_run(SALES_TASK, "--gateway", gateway, env=environment(tmp_path))
    assert result.returncode == 4, result.stderr
    thread, resume = announced(result.stderr)
    assert resume == f"orchestra run '{SALES_TASK}' --thread {thread} --gateway {gateway}"
    error = assert_one_paragraph_ending_in(result.stderr, resume)
    assert f"The gateway at {gateway} is not answering (could not connect" in error
    assert "orchestra gateway" in error


def test_a_checkpoint_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    (tmp_path / "checkpoints.sqlite").mkdir()  # a folder where SQLite wants its file
    result = orchestra_run(SALES_TASK, "--gateway", "http://127.0.0.1:9", env=environment(tmp_path))
    assert result.returncode == 5, result.stderr
    _, resume = announced(result.stderr)
    error = assert_one_paragraph_ending_in(result.stderr, resume)
    assert f"The checkpoint store {tmp_path / 'checkpoints.sqlite'} cannot be used" in error


def test_an_unreachable_redis_is_named_without_its_password(tmp_path: Path) -> None:
    redis = f"redis://orchestra:s3cret-pass@127.0.0.1:{free_port()}/0"
    result = orchestra_run(SALES_TASK, "--gateway", "http://127.0.0.1:9", env=environment(tmp_path, REDIS_URL=redis))
    assert result.returncode == 5, result.stderr
    _, resume = announced(result.stderr)
    error = assert_one_paragraph_ending_in(result.stderr, resume)
    assert "REDIS_URL=redis://orchestra:***@127.0.0.1" in error
    assert "s3cret-pass" not in result.stderr


# ------------------------------------------------------------- runs paused at an approval, with a real gateway


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the sandbox world (the design files the deploy workflow reads)."""
    data_dir = tmp_path_factory.mktemp("run-errors-data")
    build_sandbox(SandboxPaths.under(data_dir), SandboxConfig(), progress=lambda _: None)
    return data_dir


@pytest.fixture
def design_gateway(world: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`orchestra gateway` with the shipped config's design and deploy pools, as a process of its own."""
    shipped = load_settings(ROOT / "config" / "orchestra.yaml").gateway.pools
    pools = {name: shipped[name].model_dump(mode="json") | {"replaces": []} for name in ("design", "deploy")}
    with gateway_process(tmp_path, pools, env={"ORCHESTRA_DATA_DIR": str(world)}) as running:
        yield running


class Run:
    """`orchestra run` as a process whose stderr is read line by line, as a person watching it would."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process, self.lines = process, []  # type: list[str]

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], stdin: int) -> Run:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestra", *argv, cwd=ROOT, env=env, stdin=stdin,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def until(self, text: str) -> None:
        assert self.process.stderr is not None
        while not any(text in line for line in self.lines):
            line = (await asyncio.wait_for(self.process.stderr.readline(), 60)).decode()
            assert line, f"the run ended before {text!r}:\n{''.join(self.lines)}"
            self.lines.append(line)

    async def finish(self, answer: str | None = None) -> tuple[int, str, str]:
        """Exit code, stdout and the whole stderr, after typing `answer` if given."""
        stdout, rest = await asyncio.wait_for(self.process.communicate(answer.encode() if answer else None), 120)
        return self.process.returncode or 0, stdout.decode(), "".join(self.lines) + rest.decode()


def resume_argv(resume: str) -> list[str]:
    argv = shlex.split(resume)
    assert argv[:2] == ["orchestra", "run"], resume
    return argv[1:]


async def test_ctrl_c_at_an_approval_stops_the_run_and_the_printed_command_resumes_it(
    world: Path, design_gateway: tuple[str, subprocess.Popen[bytes]]
) -> None:
    gateway, _ = design_gateway
    first = await Run.start(["run", DEPLOY_TASK, "--gateway", gateway], environment(world), asyncio.subprocess.PIPE)
    await first.until("approval needed")
    first.process.send_signal(signal.SIGINT)
    code, _, stderr = await first.finish()
    assert code == 130, stderr
    thread, resume = announced(stderr)
    error = assert_one_paragraph_ending_in(stderr, resume)
    assert f"The run was stopped (Ctrl-C); the steps it finished are saved on thread {thread}." in error

    second = await Run.start(resume_argv(resume), environment(world), asyncio.subprocess.PIPE)
    await second.until("approval needed")
    code, brief, stderr = await second.finish("reject\n")
    assert code == 0, stderr
    assert announced(stderr)[0] == thread
    assert "resuming the interrupted run at" in stderr
    assert "design.list_figma_files" not in stderr  # the design was read once, before Ctrl-C
    assert "Not deployed: the deployment was rejected" in brief


async def test_a_gateway_that_dies_during_a_resumed_run_is_named_with_the_resume_command(
    world: Path, design_gateway: tuple[str, subprocess.Popen[bytes]]
) -> None:
    gateway, gateway_process_ = design_gateway
    first = await Run.start(["run", DEPLOY_TASK, "--gateway", gateway], environment(world), asyncio.subprocess.DEVNULL)
    code, _, stderr = await first.finish()  # no terminal to answer the approval on
    assert code == 1, stderr
    thread, resume = announced(stderr)
    error = assert_one_paragraph_ending_in(stderr, resume)
    assert "The run stopped at an approval question because its input is closed" in error
    assert "--yes" in error

    second = await Run.start(resume_argv(resume), environment(world), asyncio.subprocess.PIPE)
    await second.until("resuming the interrupted run at")
    await second.until("approval needed")
    gateway_process_.terminate()  # the gateway goes away while the run waits for the person
    gateway_process_.wait(30)
    code, _, stderr = await second.finish("approve\n")
    assert code == 4, stderr
    assert announced(stderr) == (thread, resume)
    error = assert_one_paragraph_ending_in(stderr, resume)
    assert f"The gateway at {gateway} is not answering (could not connect" in error


async def test_an_edit_that_is_not_json_is_asked_again_and_the_yes_flag_is_recorded_as_such(
    world: Path, design_gateway: tuple[str, subprocess.Popen[bytes]]
) -> None:
    gateway, _ = design_gateway
    run = await Run.start(["run", DEPLOY_TASK, "--gateway", gateway], environment(world), asyncio.subprocess.PIPE)
    await run.until("approval needed")
    code, brief, stderr = await run.finish('edit\n{"project": pricing-2\n[1]\n{"project": "pricing-edited"}\n')
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "not JSON" in stderr
    assert "the arguments must be a JSON object" in stderr
    assert "/p/pricing-edited/" in brief

    flagged = orchestra_run(DEPLOY_TASK, "--gateway", gateway, "--yes", env=environment(world))
    assert flagged.returncode == 0, flagged.stderr
    report = next(Path(line.split("report saved to ")[1].split(";")[0]) for line in flagged.stderr.splitlines()
                  if "report saved to " in line)  # fmt: skip
    assert "(approved by the --yes flag)" in report.read_text()


def test_an_empty_task_is_refused_before_any_work(tmp_path: Path) -> None:
    result = orchestra_run("   ", env=environment(tmp_path / "data"))
    assert result.returncode == 1
    assert "the task is empty" in result.stderr
    assert not (tmp_path / "data" / "reports").exists()


async def test_a_question_about_which_design_is_never_answered_by_a_guess_or_by_yes(
    world: Path, design_gateway: tuple[str, subprocess.Popen[bytes]]
) -> None:
    gateway, _ = design_gateway
    task = "Deploy the pricng page from Figma"
    closed = await Run.start(["run", task, "--gateway", gateway], environment(world), asyncio.subprocess.DEVNULL)
    code, _, stderr = await closed.finish()
    assert code == 1, stderr
    error = assert_one_paragraph_ending_in(stderr, announced(stderr)[1])
    assert "The run stopped at a question (which of several names you meant)" in error
    assert "Name the one you mean exactly in the task" in error

    flagged = orchestra_run(task, "--gateway", gateway, "--yes", env=environment(world))
    assert flagged.returncode == 0, flagged.stderr
    assert "--yes approves changes but never chooses for you" in flagged.stderr
    assert "# Not deployed" in flagged.stdout
    assert "Orchestra — Pricing page" in flagged.stdout  # the design that exists, to name it
