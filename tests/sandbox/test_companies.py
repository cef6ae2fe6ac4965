"""Companies found the way a person names them: any case, partial, misspelled, by domain, asked when ambiguous."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langgraph.types import Command

from orchestra.graphs.workflows.companies import candidate_mentions
from orchestra.sandbox.lookup import find_company
from tests.sandbox.conftest import Sandbox
from tests.sandbox.test_chat import Chat, contexts  # noqa: F401  (the fixture)
from tests.sandbox.test_workflows import run


def test_task_words_are_never_taken_for_a_company() -> None:
    assert candidate_mentions("How does Copealo Works stack up against its competitors?") == ["Copealo Works"]
    assert candidate_mentions("Prepare me for a call with Copealo Works") == ["Copealo Works"]
    assert candidate_mentions("research copealo works for our sales call tomorrow") == ["copealo works"]
    assert candidate_mentions("Compare copealo.example with brightloop.example") == [
        "copealo.example",
        "brightloop.example",
    ]


@pytest.mark.parametrize(
    ("form", "exact"),
    [
        ("research {lower} for our sales call tomorrow", True),
        ("Research {first} for our sales call", False),
        ("Reserch {typo} for our sales call", False),
        ("Prepare me for a call with {name}", True),
    ],
)
async def test_a_company_is_found_however_it_is_written(sandbox: Sandbox, form: str, exact: bool) -> None:
    company = sandbox.world.companies[2]  # a two-word name
    first, second = company.name.split()
    typo = f"{first} {second[:2]}{second[3]}{second[2]}{second[4:]}"  # two letters swapped
    task = form.format(lower=company.name.lower(), first=first, typo=typo, name=company.name)
    result = await run(sandbox, task)
    assert result.triage["workflow"] == "sales_intelligence_research", result.triage
    assert f"# Sales brief: {company.name} ({company.domain})" in result.answer
    assert ("> Company: " in result.answer) is not exact  # a match that was not exact says how it was made


async def test_bare_domains_in_a_comparison_are_all_compared(sandbox: Sandbox) -> None:
    a, b, c = sandbox.world.companies[5:8]
    result = await run(sandbox, f"Compare {a.domain} with {b.domain} and {c.domain}")
    assert result.triage["workflow"] == "competitive_analysis"
    for company in (a, b, c):
        assert company.name in result.answer
    assert not [e for e in result.evidence if e["arguments"].get("name") == "How"]


async def test_a_name_that_fits_two_companies_is_asked_about(sandbox: Sandbox, contexts: Any) -> None:  # noqa: F811
    world = sandbox.world
    mention = next(
        f"{a.name.split()[0]} {b.name.split()[1]}"
        for a, b in itertools.permutations(world.companies[:40], 2)
        if a.name.split()[1] != b.name.split()[1] and _suggestions(world, f"{a.name.split()[0]} {b.name.split()[1]}")
    )
    options = _suggestions(world, mention)
    chat = Chat(sandbox, contexts, "ambiguous-company")
    _, events = await chat.say(f"Research {mention} for our sales call")
    asked = next(e for e in events if e["event"] == "choice")
    assert asked["options"] == options
    state, _ = await chat.send(Command(resume=options[1]))
    chosen = next(c for c in world.companies if c.name == options[1])
    assert state["answer"].startswith(f"# Sales brief: {chosen.name} ({chosen.domain})")
    assert "chosen by the user" in state["answer"]


def _suggestions(world: Any, mention: str) -> list[str]:
    """The names the enrichment source suggests for `mention` when it finds no close single match (two or more)."""
    try:
        find_company(world, mention)
    except ValueError as exc:
        text = str(exc)
        if "did you mean" in text:
            names = text.split("did you mean ")[1].rstrip("?").split(", ")
            return names if len(names) > 1 else []
    return []
