"""Runs with a model configured (a scripted server reached through LiteLLM): model calls per task, and what the
model sees. langgraph-supervisor spends at least three model calls on any delegated task; we count ours."""

from __future__ import annotations

import json
from typing import Any

import httpx
from langgraph.checkpoint.memory import InMemorySaver

from evals.scripted_llm import Script, reply, scripted_llm, tool_call
from orchestra.core.models_config import ModelsConfig
from orchestra.core.settings import load_settings
from orchestra.graphs.runner import RunResult, run_task
from tests.conftest import ROOT, serving
from tests.sandbox.conftest import Sandbox

LANGGRAPH_SUPERVISOR_MIN_CALLS = 3  # supervisor routes, worker answers, supervisor answers again


async def run_with_model(
    sandbox: Sandbox, task: str, script: Script, panel: tuple[str, ...] = (), **options: Any
) -> tuple[RunResult, list[dict[str, Any]]]:
    app, received = scripted_llm(script)
    async with serving(app) as base:
        route = {"model": "openai/gpt-4.1-mini", "api_key": "${SCRIPTED_KEY}", "api_base": f"{base}/v1"}
        members = [{**route, "model": name} for name in panel]
        models = ModelsConfig.model_validate({"tiers": {"fast": [route], "premium": [route], "panel": members}})
        settings = load_settings(ROOT / "config" / "orchestra.yaml").model_copy(
            update={"data_dir": sandbox.paths.root.parent, "models": models}
        )
        result = await run_task(
            task, settings=settings, environ={"SCRIPTED_KEY": "k"}, gateway_url=sandbox.gateway_url,
            checkpointer=options.pop("checkpointer", None) or InMemorySaver(), **options,
        )  # fmt: skip
    return result, received


async def test_a_workflow_costs_one_model_call_and_the_model_sees_only_the_cited_report(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[40]
    summary = f"{company.name} is a strong prospect [E1]. Next step: book the call."
    result, received = await run_with_model(
        sandbox, f"Research {company.domain} for our sales call", lambda _: reply(summary)
    )
    assert result.usage["calls"] == 1 < LANGGRAPH_SUPERVISOR_MIN_CALLS
    assert result.model_used
    assert "## Summary (written by a model)" in result.answer
    assert summary in result.answer
    assert "Offline mode" not in result.answer
    prompt = received[0]["messages"][-1]["content"]
    assert f"# Sales brief: {company.name}" in prompt
    assert "[E1]" in prompt


async def test_a_specialist_calls_tools_through_the_gateway_in_two_model_calls(sandbox: Sandbox) -> None:
    company = sandbox.world.company(sandbox.world.crm_company_ids[7])

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if body["messages"][-1]["role"] != "tool":
            arguments = {"objectType": "companies", "query": company.domain, "properties": ["lifecyclestage"]}
            return tool_call("crm__hubspot-search-objects", arguments)
        content = body["messages"][-1]["content"]
        text = content if isinstance(content, str) else "".join(part.get("text", "") for part in content)
        stage = json.loads(text)["results"][0]["properties"]["lifecyclestage"]
        return reply(f"{company.name} is at lifecycle stage {stage} [crm__hubspot-search-objects].")

    result, received = await run_with_model(sandbox, f"what lifecycle stage is {company.domain} in our crm?", script)
    assert result.triage["domain"] == "bi"
    assert result.triage["workflow"] is None
    assert result.usage["calls"] == 2 < LANGGRAPH_SUPERVISOR_MIN_CALLS + 1
    assert "crm__hubspot-search-objects" in {t["function"]["name"] for t in received[0]["tools"]}
    assert result.answer.startswith(f"{company.name} is at lifecycle stage ")
    assert result.answer.split("stage ")[1].split(" ")[0] in {"lead", "opportunity", "customer"}


async def test_a_panel_disagreement_goes_out_flagged_with_the_answer(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[44]

    def script(body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        if "You are checking an answer" not in prompt:
            return reply(f"{company.name} is worth a call [E1]. Next step: call.")
        if body["model"] == "gpt-4.1":
            return reply('{"verdict": "disagree", "issues": ["the funding total is not in the evidence"]}')
        return reply('{"verdict": "agree", "issues": []}')

    task = f"Research {company.domain} for our sales call; the brief goes to the board so it must be exact"
    result, received = await run_with_model(sandbox, task, script, panel=("openai/gpt-4.1-mini", "openai/gpt-4.1"))
    assert result.triage["complexity"] == "critical"
    assert result.usage["calls"] == 3  # the summary, then two panel verdicts asked in parallel
    assert result.flags == ["panel: openai/gpt-4.1 disagrees: the funding total is not in the evidence"]
    verify = next(r for r in received if "You are checking an answer" in r["messages"][-1]["content"])
    assert f"# Sales brief: {company.name}" in verify["messages"][-1]["content"]
    assert result.report_path is not None
    saved = result.report_path.read_text()
    assert "Cross-check:** panel: openai/gpt-4.1 disagrees" in saved
    assert "\nModels: model calls: 3 ($" in saved  # the footer: critical, so no step was routed
    assert [(c["step"], c["tier"], c["by"]) for c in result.usage["routing"]] == [("synthesis", "premium", "rule")]


async def test_low_rule_confidence_asks_the_fast_model_to_route(sandbox: Sandbox) -> None:
    company = sandbox.world.companies[45]
    labels = {"domain": "bi", "complexity": "high", "workflow": "sales_intelligence_research"}

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if "Classify the task for routing" in body["messages"][-1]["content"]:
            return reply(json.dumps(labels))
        return reply(f"{company.name}: see the brief [E1]. Next step: call.")

    task = f"Brief me on {company.domain} for the board; it must be exact"  # the rules are unsure of this one
    result, received = await run_with_model(sandbox, task, script)
    assert result.triage["workflow"] == "sales_intelligence_research"
    assert "low confidence: labels from the fast model" in result.triage["reasons"]
    assert "Classify the task for routing" in received[0]["messages"][-1]["content"]
    assert result.usage["calls"] == 2  # routing, then the brief's summary


async def test_a_specialists_write_waits_for_approval_and_runs_only_when_approved(sandbox: Sandbox) -> None:
    company = sandbox.world.company(sandbox.world.crm_company_ids[9])
    async with sandbox.client("crm") as crm:
        found = await crm.call_tool("hubspot-search-objects", {"objectType": "companies", "query": company.domain})
        crm_id = json.loads(found.content[0].text)["results"][0]["id"]

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if body["messages"][-1]["role"] != "tool":
            arguments = {
                "type": "NOTE",
                "associations": {"companyIds": [crm_id]},
                "metadata": {"body": "Wants a demo."},
            }
            return tool_call("crm__hubspot-create-engagement", arguments)
        return reply("Done: the note is logged.")

    async def notes() -> list[str]:
        async with sandbox.client("crm") as crm:
            linked = await crm.call_tool(
                "hubspot-list-associations", {"objectType": "companies", "objectId": crm_id, "toObjectType": "notes"}
            )
        return [n["properties"]["hs_note_body"] for n in json.loads(linked.content[0].text)["results"]]

    task = f"log a note on {company.name} in our crm: they asked for a demo next week"
    asked: list[dict[str, Any]] = []
    for decision, expected in (({"action": "reject"}, 0), ({"action": "edit", "arguments": {
            "metadata": {"body": "Wants a demo on Tuesday."}}}, 1)):  # fmt: skip

        async def approve(request: dict[str, Any], decision: dict[str, Any] = decision) -> dict[str, Any]:
            asked.append(request)
            return decision

        app, _ = scripted_llm(script)
        async with serving(app) as base:
            route = {"model": "openai/gpt-4.1-mini", "api_key": "${SCRIPTED_KEY}", "api_base": f"{base}/v1"}
            settings = load_settings(ROOT / "config" / "orchestra.yaml").model_copy(update={
                "data_dir": sandbox.paths.root.parent,
                "models": ModelsConfig.model_validate({"tiers": {"fast": [route], "premium": [route]}}),
            })  # fmt: skip
            result = await run_task(
                task, settings=settings, environ={"SCRIPTED_KEY": "k"}, gateway_url=sandbox.gateway_url,
                checkpointer=InMemorySaver(), approve=approve,
            )  # fmt: skip
        assert result.triage["workflow"] is None
        assert sum(body == "Wants a demo on Tuesday." for body in await notes()) == expected
    assert [a["tool"] for a in asked] == ["crm__hubspot-create-engagement"] * 2
    assert asked[0]["arguments"]["metadata"] == {"body": "Wants a demo."}
    assert "Wants a demo." not in await notes()  # the rejected call never ran


async def test_a_model_improves_the_compiled_page_only_when_it_keeps_every_text(sandbox: Sandbox) -> None:
    async def approve(request: dict[str, Any]) -> dict[str, Any]:
        return {"action": "approve"}

    def improving(keep_texts: bool) -> Script:
        def script(body: dict[str, Any]) -> dict[str, Any]:
            prompt = body["messages"][-1]["content"]
            if "Improve this generated HTML" not in prompt:
                return reply("Deployed [E3]. Next step: review it.")
            html = prompt.split("Generated HTML:\n", 1)[1]
            improved = html.replace("<head>", "<head><!-- improved by the model -->")
            return reply(improved if keep_texts else "<html><body>Lorem ipsum</body></html>")

        return script

    kept, _ = await run_with_model(sandbox, "Deploy the settings page from Figma", improving(True), approve=approve)
    assert "Written by the design compiler, improved by a model" in kept.answer
    assert kept.usage["calls"] == 2  # the improvement, then the summary
    lost, _ = await run_with_model(sandbox, "Deploy the landing page from Figma", improving(False), approve=approve)
    assert "Written by the deterministic design compiler" in lost.answer  # the model dropped texts: not used
    for result, marker in ((kept, True), (lost, False)):
        url = next(line for line in result.answer.splitlines() if line.startswith("- Deployed as ")).split(" at ")[1]
        async with httpx.AsyncClient() as http:
            page = (await http.get(url.split(" ")[0])).text
        assert ("<!-- improved by the model -->" in page) is marker


async def test_with_a_model_a_follow_up_is_rewritten_by_the_fast_model_in_one_call(sandbox: Sandbox) -> None:
    first, other = sandbox.world.companies[50], sandbox.world.companies[51]
    rewritten = f"Compare {first.name} with {other.name}"

    def script(body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        return reply(rewritten if "Latest message:" in prompt else "A summary [E1].")

    saver, thread = InMemorySaver(), "model-follow-up"
    await run_with_model(sandbox, f"Research {first.domain} for our sales call", script,
                         checkpointer=saver, thread_id=thread)  # fmt: skip
    result, received = await run_with_model(sandbox, "now compare them with their closest rival", script,
                                            checkpointer=saver, thread_id=thread)  # fmt: skip
    rewrites = [body for body in received if "Latest message:" in body["messages"][-1]["content"]]
    assert len(rewrites) == 1
    prompt = rewrites[0]["messages"][-1]["content"]
    assert "now compare them with their closest rival" in prompt
    assert first.domain in prompt  # the thread's known company is given to the model
    assert result.triage["workflow"] == "competitive_analysis"
    assert other.name in result.answer
    assert result.usage["calls"] == 2  # the rewrite and the report's summary
