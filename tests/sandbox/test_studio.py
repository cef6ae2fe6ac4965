"""`langgraph dev` serves the graphs of langgraph.json (as LangGraph Studio uses them); the SDK completes a run."""

from __future__ import annotations

# ruff: noqa: ASYNC210, ASYNC220  (a test driving a server process; blocking here is intended)
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from langgraph_sdk import get_client

from tests.conftest import ROOT, free_port
from tests.sandbox.conftest import Sandbox


async def test_langgraph_dev_serves_the_supervisor_and_completes_a_run(sandbox: Sandbox, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "ORCHESTRA_GATEWAY_URL": sandbox.gateway_url,
        "ORCHESTRA_DATA_DIR": str(sandbox.paths.root.parent),
        "ORCHESTRA_CONFIG": str(ROOT / "config" / "orchestra.yaml"),
    }
    env.pop("LANGSMITH_TRACING", None)
    for key in [k for k in env if k.endswith("_API_KEY")]:
        env.pop(key)  # offline: no provider keys
    log = (tmp_path / "langgraph-dev.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "langgraph-dev.log").read_text()[-3000:]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/ok", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "langgraph dev did not start"
            await asyncio.sleep(0.2)
        client = get_client(url=base)
        graphs = {a["graph_id"] for a in await client.assistants.search()}
        assert {"supervisor", "sales_intelligence_research", "market_research", "competitive_analysis"} <= graphs
        company = sandbox.world.companies[30]
        thread = await client.threads.create()
        state = await client.runs.wait(
            thread["thread_id"], "supervisor", input={"task": f"Research {company.domain} for our sales call"}
        )
        assert state["triage"]["workflow"] == "sales_intelligence_research"
        assert f"# Sales brief: {company.name}" in state["answer"]
        history = await client.threads.get_state(thread["thread_id"])
        assert history["values"]["answer"] == state["answer"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()
