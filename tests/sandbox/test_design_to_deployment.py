"""design_to_deployment end to end, offline: the approval interrupt, then approve, edit and reject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from orchestra.graphs.runner import RunResult
from tests.sandbox.conftest import Sandbox
from tests.sandbox.test_workflows import run


def approver(decision: dict[str, Any], asked: list[dict[str, Any]]) -> Any:
    async def approve(request: dict[str, Any]) -> dict[str, Any]:
        asked.append(request)
        return decision

    return approve


async def fetch(url: str) -> str:
    async with httpx.AsyncClient() as http:
        return (await http.get(url)).text


def deployed_url(result: RunResult) -> str:
    line = next(line for line in result.answer.splitlines() if line.startswith("- Deployed as "))
    return line.split(" at ")[1].split(" ")[0]


async def test_approved_deployment_serves_the_compiled_design_and_passes_the_browser_test(sandbox: Sandbox) -> None:
    asked: list[dict[str, Any]] = []
    result = await run(sandbox, "Deploy the pricing page from Figma", approve=approver({"action": "approve"}, asked))
    assert result.triage["workflow"] == "design_to_deployment"
    assert asked[0]["tool"] == "deploy.deploy"
    assert asked[0]["arguments"]["project"] == "orchestra-pricing-page"
    assert "(approved by user)" in result.answer
    page = await fetch(deployed_url(result))
    for text in ("Starter", "$19/mo", "Team", "$49/mo", "Enterprise", "$199/mo"):
        assert text in page
    test_line = next(line for line in result.answer.splitlines() if "expected texts on the page" in line)
    assert ": passed [" in test_line
    shot = next(line for line in result.answer.splitlines() if line.startswith("- Screenshot: "))
    path = shot.removeprefix("- Screenshot: ").split(" [")[0]
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_an_edited_approval_deploys_under_the_edited_project(sandbox: Sandbox) -> None:
    asked: list[dict[str, Any]] = []
    decision = {"action": "edit", "arguments": {"project": "settings-preview"}}
    result = await run(sandbox, "Ship the settings page design to production", approve=approver(decision, asked))
    assert result.triage["workflow"] == "design_to_deployment"
    assert "/p/settings-preview/" in result.answer
    assert "Settings" in await fetch(deployed_url(result))


async def test_a_rejected_deployment_deploys_nothing(sandbox: Sandbox) -> None:
    before = sorted(p.name for p in sandbox.paths.deployments.iterdir())
    result = await run(sandbox, "Deploy the landing page from Figma", approve=approver({"action": "reject"}, []))
    assert "Not deployed: the deployment was rejected by user." in result.answer
    assert sorted(p.name for p in sandbox.paths.deployments.iterdir()) == before
    assert not any(e["tool"] == "deploy.deploy" for e in result.evidence)


async def test_a_trusted_pool_deploys_without_asking(sandbox: Sandbox) -> None:
    result = await run(sandbox, "Deploy the settings page from Figma", trusted=("deploy",))  # no approver at all
    assert "(approved by config (trusted pool))" in result.answer
    assert "Settings" in await fetch(deployed_url(result))


async def test_a_design_that_does_not_exist_is_never_replaced_by_a_guess(sandbox: Sandbox) -> None:
    before = sorted(p.name for p in sandbox.paths.deployments.iterdir())
    for task in ("Deploy the careers page from Figma", "Deploy the page from Figma"):
        result = await run(sandbox, task, trusted=("deploy",))  # even a trusted deploy pool must not guess
        assert result.answer.startswith("# Not deployed")
        assert "Nothing was built or deployed" in result.answer
        for name in ("Orchestra — Landing page", "Orchestra — Pricing page", "Orchestra — Settings page"):
            assert name in result.answer
        assert not [e for e in result.evidence if e["tool"].startswith("deploy.")]
        if "careers" in task:
            assert "no design is named like 'careers'" in result.answer
    assert sorted(p.name for p in sandbox.paths.deployments.iterdir()) == before


async def test_a_misspelled_design_is_asked_about_never_deployed_on_a_guess(sandbox: Sandbox) -> None:
    before = sorted(p.name for p in sandbox.paths.deployments.iterdir())
    questions: list[dict[str, Any]] = []

    async def unanswered(request: dict[str, Any]) -> dict[str, Any]:  # as `--yes` does: it approves, never chooses
        questions.append(request)
        return {"choice": ""} if request["kind"] == "choice" else {"action": "approve"}

    result = await run(sandbox, "Deploy the settngs page to production", approve=unanswered, trusted=("deploy",))
    assert [q["kind"] for q in questions] == ["choice"]
    assert questions[0]["question"] == "No design is named “settngs”. Which design do you mean?"
    assert questions[0]["options"] == ["Orchestra — Settings page"]
    assert "Not deployed" in result.answer
    assert "none was chosen (the closest: 'Orchestra — Settings page')" in result.answer
    assert [e["tool"] for e in result.evidence] == ["design.list_figma_files"]  # listed once, before the question
    assert sorted(p.name for p in sandbox.paths.deployments.iterdir()) == before

    picked = await run(sandbox, "Deploy the settngs page to production",
                       approve=approver({"choice": "Orchestra — Settings page"}, []), trusted=("deploy",))  # fmt: skip
    assert "“settngs” taken as 'Orchestra — Settings page', chosen by the user" in picked.answer
    assert picked.answer.startswith("# Design to deployment: Orchestra — Settings page")
    assert "Settings" in await fetch(deployed_url(picked))


def test_only_a_design_the_task_names_is_chosen_without_asking() -> None:
    from orchestra.graphs.workflows.design_to_deployment import choose_design, close_designs

    files = [{"name": f"Orchestra — {n} page", "fileKey": n} for n in ("Landing", "Pricing", "Settings")]
    assert choose_design("Deploy the pricing page", files) == (files[1], None)
    assert choose_design("Deploy the pricng page from Figma", files)[0] is None
    assert close_designs("Deploy the pricng page from Figma", files) == ("pricng", [files[1]])
    assert close_designs("Deploy the careers page", files) == ("careers", [])
    assert choose_design("ship the settings and pricing pages", files)[0] is None
