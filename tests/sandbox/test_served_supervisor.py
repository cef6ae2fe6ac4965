"""`orchestra serve` runs the real supervisor graph (langgraph.json's) against the built sandbox through the gateway,
for a `langgraph-sdk` client: the equivalent of test_studio.py's `langgraph dev` run, in process. It lives here, not
in tests/server/, to share the session's one sandbox and gateway."""

from __future__ import annotations

import asyncio

from langgraph_sdk import get_client

from orchestra.core.serving import serve_in_loop
from orchestra.core.settings import load_settings, runtime_environment
from orchestra.server.app import create_app
from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox


async def test_the_served_supervisor_answers_a_sales_research_task(sandbox: Sandbox) -> None:
    data_dir = sandbox.paths.root.parent
    settings = load_settings(ROOT / "config" / "orchestra.yaml").model_copy(update={"data_dir": data_dir})
    overrides = {"ORCHESTRA_DATA_DIR": str(data_dir), "ORCHESTRA_SANDBOX_URL": sandbox.host_url}
    environ = {k: v for k, v in (runtime_environment(settings) | overrides).items() if not k.endswith("_API_KEY")}
    environ.pop("ORCHESTRA_SERVER_KEYS", None)
    environ.pop("REDIS_URL", None)
    app = create_app(settings, environ, gateway_url=sandbox.gateway_url)  # the graphs of langgraph.json
    company = sandbox.world.companies[31]
    async with serve_in_loop(app) as url:
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
