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
        company, other = sandbox.world.companies[30], sandbox.world.companies[31]
        thread = await client.threads.create()
        ask = {"messages": [{"role": "user", "content": f"Research {company.domain} for our sales call"}]}
        # LangGraph forwards a subgraph's custom events (the workflow's tool calls) only with stream_subgraphs;
        # Orchestra's own server forwards them either way.
        events = [chunk async for chunk in client.runs.stream(
            thread["thread_id"], "supervisor", input=ask, stream_mode=["custom", "values"], stream_subgraphs=True
        )]  # fmt: skip
        custom = [e.data for e in events if e.event.startswith("custom")]
        assert custom[1]["event"] == "triage"
        assert any(c["event"] == "tool" and c["phase"] == "end" for c in custom)
        state = next(e.data for e in reversed(events) if e.event == "values")
        assert state["triage"]["workflow"] == "sales_intelligence_research"
        assert state["messages"][-1]["type"] == "ai"
        assert state["messages"][-1]["content"].startswith(f"# Sales brief: {company.name}")
        follow_up = {"messages": [{"role": "user", "content": f"now compare them with {other.name}"}]}
        state = await client.runs.wait(thread["thread_id"], "supervisor", input=follow_up)
        assert state["triage"]["workflow"] == "competitive_analysis"
        assert company.name in state["messages"][-1]["content"]
        assert other.name in state["messages"][-1]["content"]
        history = await client.threads.get_state(thread["thread_id"])
        assert history["values"]["answer"] == state["answer"]

        # A deploy writes files and pauses for approval: no blocking call on the loop, and a plain-word answer.
        deploy = await client.threads.create()
        ask = {"messages": [{"role": "user", "content": "Deploy the pricing page from Figma"}]}
        await client.runs.wait(deploy["thread_id"], "design_to_deployment", input=ask)
        paused = await client.threads.get_state(deploy["thread_id"])
        assert paused["interrupts"][0]["value"]["tool"] == "deploy.deploy"
        done = await client.runs.wait(deploy["thread_id"], "design_to_deployment", command={"resume": "approve"})
        assert done["approvals"][-1]["decision"] == "approve"
        assert done["facts"]["deployment"]["url"].startswith(sandbox.host_url)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()
