"""`orchestra serve` runs the real supervisor graph (langgraph.json's) against the built sandbox through the gateway,
for a `langgraph-sdk` client: the equivalent of test_studio.py's `langgraph dev` run, in process. It lives here, not
in tests/server/, to share the session's one sandbox and gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph_sdk import get_client

from orchestra.core.serving import serve_in_loop
from orchestra.core.settings import load_settings, runtime_environment
from orchestra.server.app import create_app
from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox


def served_app(sandbox: Sandbox) -> Any:
    """The server app over the session's sandbox gateway, offline (no model keys, no server keys, no Redis)."""
    data_dir = sandbox.paths.root.parent
    settings = load_settings(ROOT / "config" / "orchestra.yaml").model_copy(update={"data_dir": data_dir})
    overrides = {"ORCHESTRA_DATA_DIR": str(data_dir), "ORCHESTRA_SANDBOX_URL": sandbox.host_url}
    environ = {k: v for k, v in (runtime_environment(settings) | overrides).items() if not k.endswith("_API_KEY")}
    environ.pop("ORCHESTRA_SERVER_KEYS", None)
    environ.pop("REDIS_URL", None)
    return create_app(settings, environ, gateway_url=sandbox.gateway_url)  # the graphs of langgraph.json


async def test_the_served_supervisor_answers_a_sales_research_task(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[31]
    async with serve_in_loop(served_app(sandbox)) as url:
        client = get_client(url=url, api_key=None)
        assert "supervisor" in {a["graph_id"] for a in await client.assistants.search()}
        thread = await client.threads.create()
        updates: list[str] = []
        async with asyncio.timeout(150):
            async for part in client.runs.stream(
                thread["thread_id"], "supervisor", input={"task": f"Research {company.domain} for our sales call"},
                stream_mode=["updates", "values"],
            ):  # fmt: skip
                if part.event == "updates":
                    updates.extend(part.data)
        assert "route" in updates
        state = await client.threads.get_state(thread["thread_id"])
        assert state["values"]["triage"]["workflow"] == "sales_intelligence_research"
        assert f"# Sales brief: {company.name}" in state["values"]["answer"]
        [run] = await client.runs.list(thread["thread_id"])
        assert run["status"] == "success"
        assert (await client.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_a_chat_and_its_follow_up_stream_progress_and_answer_as_messages(sandbox: Sandbox) -> None:
    first, other = sandbox.world.companies[33], sandbox.world.companies[34]
    async with serve_in_loop(served_app(sandbox)) as url:
        client = get_client(url=url, api_key=None)
        thread = (await client.threads.create())["thread_id"]
        ask = {"messages": [{"role": "user", "content": f"Research {first.name} for our sales call"}]}
        custom, last = [], None
        async with asyncio.timeout(150):
            async for part in client.runs.stream(thread, "supervisor", input=ask, stream_mode=["custom", "values"]):
                if part.event == "custom":
                    custom.append(part.data)
                elif part.event == "values":
                    last = part.data
        # Progress from inside the workflow arrives without stream_subgraphs: the server forwards it.
        assert [c["event"] for c in custom[:2]] == ["turn", "triage"]
        ended = [c for c in custom if c["event"] == "tool" and c["phase"] == "end"]
        assert ended
        assert all(c["ok"] for c in ended)
        assert last is not None
        assert last["messages"][-1]["type"] == "ai"
        assert last["messages"][-1]["content"].startswith(f"# Sales brief: {first.name}")

        follow_up = {"messages": [{"role": "user", "content": f"now compare them with {other.name}"}]}
        state = await client.runs.wait(thread, "supervisor", input=follow_up)
        reply = state["messages"][-1]["content"]
        assert state["triage"]["workflow"] == "competitive_analysis"
        for company in (first, other):
            assert company.name in reply
            assert f"{company.employees:,}" in reply or str(company.employees) in reply


async def test_an_approval_is_resumed_through_the_api_with_approve_edit_and_reject(sandbox: Sandbox) -> None:
    async with serve_in_loop(served_app(sandbox)) as url:
        client = get_client(url=url, api_key=None)
        outcomes = {}
        for answer in ("approve", {"action": "edit", "arguments": {"project": "served-edit"}},
                       {"action": "reject", "reason": "not this week"}):  # fmt: skip
            thread = (await client.threads.create())["thread_id"]
            ask = {"messages": [{"role": "user", "content": "Deploy the pricing page from Figma"}]}
            await client.runs.wait(thread, "supervisor", input=ask)
            paused = await client.threads.get_state(thread)
            assert paused["interrupts"][0]["value"]["tool"] == "deploy.deploy"
            done = await client.runs.wait(thread, "supervisor", command={"resume": answer})
            outcomes[str(answer)] = done
        assert outcomes["approve"]["approvals"][-1]["decision"] == "approve"
        edited = next(v for k, v in outcomes.items() if "edit" in k)
        assert "/p/served-edit/" in edited["answer"]
        rejected = next(v for k, v in outcomes.items() if "reject" in k)
        assert "rejected by user (not this week)" in rejected["answer"]
