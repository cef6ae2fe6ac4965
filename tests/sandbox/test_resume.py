"""`orchestra run` killed mid-way resumes from its last checkpoint when run again on the same thread,
with the SQLite checkpointer and with the Redis one."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox


async def orchestra_run(sandbox: Sandbox, *args: str, redis: str | None) -> asyncio.subprocess.Process:
    env = {**os.environ, "ORCHESTRA_DATA_DIR": str(sandbox.paths.root.parent)}
    env.pop("REDIS_URL", None)
    if redis:
        env["REDIS_URL"] = redis
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestra", "run", *args, "--gateway", sandbox.gateway_url,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_a_killed_run_resumes_at_its_last_step(
    sandbox: Sandbox, store: str, request: pytest.FixtureRequest
) -> None:
    redis = request.getfixturevalue("redis_url") if store == "redis" else None
    company = sandbox.world.companies[50 if store == "sqlite" else 51]
    task, thread = f"Research {company.domain} for our sales call", f"resume-test-{store}"
    first = await orchestra_run(sandbox, task, "--thread", thread, redis=redis)
    assert first.stderr is not None
    seen = []
    while line := (await asyncio.wait_for(first.stderr.readline(), 60)).decode():
        seen.append(line)
        if "E6 enrichment.search_people" in line:  # identify and browse are checkpointed; kill mid-run
            first.send_signal(signal.SIGKILL)
            break
    await first.wait()
    assert first.returncode == -signal.SIGKILL, "".join(seen)
    second = await orchestra_run(sandbox, task, "--thread", thread, redis=redis)
    stdout, stderr = await asyncio.wait_for(second.communicate(), 120)
    assert second.returncode == 0, stderr.decode()
    assert "resuming the interrupted run at" in stderr.decode()
    assert " E1 enrichment.enrich_organization" not in stderr.decode()  # identify did not run again
    brief = stdout.decode()
    assert f"# Sales brief: {company.name}" in brief
    assert brief.count("`enrichment.enrich_organization`") == 1
    assert brief.count("`browser.browser_navigate`") == 1
