"""Assistants, threads, state and history through `langgraph-sdk`; keys, Host/Origin checks and error bodies."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import AuthenticationError, ConflictError, NotFoundError

from orchestra.core.models_config import ModelsConfig
from orchestra.core.serving import serve_in_loop
from orchestra.core.settings import OrchestraSettings
from orchestra.server.app import create_app
from tests.server.conftest import KEYS, client
from tests.server.graphs import all_graphs


async def test_assistants_are_the_served_graphs_by_id_or_graph_id(acme: LangGraphClient) -> None:
    found = await acme.assistants.search()
    assert {a["graph_id"] for a in found} == {
        "echo", "approval", "progress", "gated", "chat", "nested", "metered", "held", "ledger"
    }  # fmt: skip
    echo = next(a for a in found if a["graph_id"] == "echo")
    assert uuid.UUID(echo["assistant_id"])  # a stable UUID, as LangGraph derives it
    assert (await acme.assistants.get("echo"))["assistant_id"] == echo["assistant_id"]
    assert (await acme.assistants.get(echo["assistant_id"]))["graph_id"] == "echo"
    assert [a["graph_id"] for a in await acme.assistants.search(graph_id="approval")] == ["approval"]
    schemas = await acme.assistants.get_schemas("approval")
    assert set(schemas["input_schema"]["properties"]) >= {"request"}
    assert set(schemas["state_schema"]["properties"]) == {"request", "decision", "log"}
    drawn = await acme.assistants.get_graph("approval")
    assert {node["id"] for node in drawn["nodes"]} >= {"prepare", "approve"}
    with pytest.raises(NotFoundError):
        await acme.assistants.get("no-such-graph")


async def test_threads_are_created_searched_updated_and_deleted(acme: LangGraphClient) -> None:
    label = uuid.uuid4().hex
    chosen = str(uuid.uuid4())
    first = await acme.threads.create(thread_id=chosen, metadata={"suite": label, "n": 1})
    assert first["thread_id"] == chosen
    assert first["status"] == "idle"
    with pytest.raises(ConflictError):
        await acme.threads.create(thread_id=chosen)
    assert (await acme.threads.create(thread_id=chosen, if_exists="do_nothing"))["metadata"]["n"] == 1
    second = await acme.threads.create(metadata={"suite": label, "n": 2, "tags": ["a", "b"]})
    await acme.runs.wait(second["thread_id"], "echo", input={"messages": [{"role": "user", "content": "hi"}]})

    found = await acme.threads.search(metadata={"suite": label})
    assert [t["thread_id"] for t in found] == [second["thread_id"], chosen]  # most recently updated first
    assert [t["thread_id"] for t in await acme.threads.search(metadata={"suite": label, "tags": ["b"]})] == [
        second["thread_id"]
    ]
    assert len(await acme.threads.search(metadata={"suite": label}, limit=1, offset=1)) == 1
    idle = await acme.threads.search(metadata={"suite": label}, status="idle")
    assert {t["thread_id"] for t in idle} == {chosen, second["thread_id"]}
    assert await acme.threads.count(metadata={"suite": label}) == 2
    assert (await acme.threads.get(second["thread_id"]))["values"]["messages"][-1]["content"] == "echo: hi"

    patched = await acme.threads.update(chosen, metadata={"n": 3, "owner": "ana"})
    assert patched["metadata"] == {"suite": label, "n": 3, "owner": "ana"}
    await acme.threads.delete(chosen)
    with pytest.raises(NotFoundError):
        await acme.threads.get(chosen)
    assert [t["thread_id"] for t in await acme.threads.search(metadata={"suite": label})] == [second["thread_id"]]


async def test_state_and_history_show_values_next_and_checkpoints(acme: LangGraphClient) -> None:
    thread = await acme.threads.create()
    empty = await acme.threads.get_state(thread["thread_id"])
    assert empty["values"] == {}
    assert empty["next"] == []
    await acme.runs.wait(thread["thread_id"], "echo", input={"messages": [{"role": "user", "content": "one"}]})
    await acme.runs.wait(thread["thread_id"], "echo", input={"messages": [{"role": "user", "content": "two"}]})
    state = await acme.threads.get_state(thread["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]] == ["one", "echo: one", "two", "echo: two"]
    assert state["next"] == []
    assert state["checkpoint"]["thread_id"] == thread["thread_id"]  # the id the client knows, never the tenant's key
    history = await acme.threads.get_history(thread["thread_id"], limit=3)
    assert len(history) == 3
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    older = await acme.threads.get_state(thread["thread_id"], checkpoint_id=history[2]["checkpoint"]["checkpoint_id"])
    assert len(older["values"]["messages"]) < 4
    before = await acme.threads.get_history(thread["thread_id"], before=history[0]["checkpoint"], limit=1)
    assert before[0]["checkpoint"]["checkpoint_id"] == history[1]["checkpoint"]["checkpoint_id"]


async def test_a_request_without_a_key_gets_401(server_url: str) -> None:
    anonymous = client(server_url, None)
    with pytest.raises(AuthenticationError):
        await anonymous.threads.search()
    async with httpx.AsyncClient(base_url=server_url) as http:
        assert (await http.post("/threads/search", json={}, headers={"x-api-key": "wrong"})).status_code == 401
        bearer = {"authorization": f"Bearer {KEYS['acme']}"}
        assert (await http.post("/threads/search", json={}, headers=bearer)).status_code == 200
        assert (await http.get("/ok")).json() == {"ok": True, "key_required": True}  # health checks need no key
        assert (await http.get("/metrics")).status_code == 401


async def test_a_bad_body_gets_422_naming_the_field(server_url: str) -> None:
    headers = {"x-api-key": KEYS["acme"]}
    async with httpx.AsyncClient(base_url=server_url, headers=headers) as http:
        thread = (await http.post("/threads", json={})).json()
        reply = await http.post(
            f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "echo", "multitask_strategy": "sometimes"}
        )
        assert reply.status_code == 422
        assert "multitask_strategy" in reply.json()["detail"]
        reply = await http.post(f"/threads/{thread['thread_id']}/runs", json={"input": {}})
        assert reply.status_code == 422
        assert "assistant_id" in reply.json()["detail"]
        reply = await http.post("/threads", json={"thread_id": "not-a-uuid"})
        assert reply.status_code == 422
        missing = await http.post(f"/threads/{uuid.uuid4()}/runs/wait", json={"assistant_id": "echo"})
        assert missing.status_code == 404
        assert "not found" in missing.json()["detail"]


async def test_foreign_host_and_origin_are_refused_own_origin_is_served(server_url: str) -> None:
    headers = {"x-api-key": KEYS["acme"]}
    async with httpx.AsyncClient(base_url=server_url, headers=headers) as http:
        assert (await http.get("/ok", headers={"host": "attacker.example"})).status_code == 403
        assert (await http.get("/info", headers={"origin": "http://attacker.example"})).status_code == 403
        own = server_url.removeprefix("http://")
        assert (await http.get("/info", headers={"origin": f"http://{own}"})).status_code == 200


async def test_openapi_lists_every_route_and_no_docs_page_is_served(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
        for path in (
            "/threads",
            "/threads/search",
            "/threads/{thread_id}/state",
            "/threads/{thread_id}/history",
            "/threads/{thread_id}/runs/stream",
            "/threads/{thread_id}/runs/{run_id}/join",
            "/threads/{thread_id}/runs/{run_id}/cancel",
            "/runs/wait",
            "/assistants/search",
            "/metrics",
        ):
            assert path in paths, path  # fmt: skip
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/redoc")).status_code == 404


async def test_metrics_count_runs_by_graph_and_status(acme: LangGraphClient, server_url: str) -> None:
    await acme.runs.wait(None, "echo", input={"messages": [{"role": "user", "content": "count me"}]})
    await acme.runs.wait(None, "metered", input={"messages": [{"role": "user", "content": "count me"}]})
    async with httpx.AsyncClient(base_url=server_url, headers={"x-api-key": KEYS["globex"]}) as http:
        text = (await http.get("/metrics")).text
    assert 'orchestra_server_runs_total{graph="echo",status="success"}' in text
    for name in (
        "orchestra_server_run_duration_seconds_bucket",
        "orchestra_server_time_to_first_event_seconds",
        "orchestra_server_queue_depth",
        "orchestra_server_active_streams",
        "orchestra_server_active_runs",
    ):
        assert name in text, name  # fmt: skip
    assert 'orchestra_server_model_calls_total{graph="metered"} 1.0' in text
    assert 'orchestra_server_model_tokens_total{graph="metered",kind="input"} 12.0' in text
    assert 'orchestra_server_model_cost_usd_total{graph="metered"} 0.0042' in text


async def test_the_chat_page_needs_no_key_and_is_served_without_blocking_the_event_loop(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert '<script type="module" src="/chat/chat.js">' in page.text
        assert (await http.get("/chat/chat.js")).status_code == 200
        missing = await http.get("/chat/nothing.js")
        assert missing.status_code == 404
        assert "no such file of the chat page" in missing.json()["detail"]


async def test_what_an_answer_shows_cannot_be_written_by_a_client(server_url: str) -> None:
    """`response_metadata.orchestra` (an answer's visuals, which the screenshot route trusts) comes from graphs."""
    forged = {"type": "ai", "content": "x", "response_metadata": {"orchestra": {"visuals": {}}}}
    async with httpx.AsyncClient(base_url=server_url, headers={"x-api-key": KEYS["acme"]}) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        for path, body in (
            (f"/threads/{thread}/state", {"values": {"messages": [forged]}}),
            (f"/threads/{thread}/runs/wait", {"assistant_id": "echo", "input": {"messages": [forged]}}),
            (f"/threads/{thread}/runs/wait", {"assistant_id": "echo", "command": {"update": {"messages": [forged]}}}),
        ):
            refused = await http.post(path, json=body)
            assert refused.status_code == 422, path
            assert "written by Orchestra's graphs only" in refused.json()["detail"]


async def test_the_model_budgets_in_force_are_exported_for_the_budget_alert(tmp_path: Path) -> None:
    models = ModelsConfig.model_validate({"budgets": {"daily_usd": 25.0}})
    settings = OrchestraSettings(data_dir=tmp_path, models=models)
    app = create_app(settings, {}, gateway_url="http://127.0.0.1:9", graphs=all_graphs())
    async with serve_in_loop(app) as url, httpx.AsyncClient(base_url=url) as http:
        exposition = (await http.get("/metrics")).text
    assert 'orchestra_server_model_budget_usd{period="daily"} 25.0' in exposition
    assert 'period="monthly"' not in exposition  # no monthly limit: no series
