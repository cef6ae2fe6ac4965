"""Companies found the way a person names them: any case, partial, misspelled, by domain, asked when ambiguous."""

from __future__ import annotations

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
    # The start of a name that two companies' names begin with: both are offered, nothing is guessed.
    begun = {a.name[:4]: [c.name for c in world.companies if c.name.startswith(a.name[:4])] for a in world.companies}
    prefix, options = next((p, names) for p, names in begun.items()
                           if len(names) == 2 and sorted(_suggestions(world, p)) == sorted(names))  # fmt: skip
    chat = Chat(sandbox, contexts, "ambiguous-company")
    _, events = await chat.say(f"Research {prefix} for our sales call")
    asked = next(e for e in events if e["event"] == "choice")
    assert sorted(asked["options"]) == sorted(options)
    state, _ = await chat.send(Command(resume=options[1]))
    chosen = next(c for c in world.companies if c.name == options[1])
    assert state["answer"].startswith(f"# Sales brief: {chosen.name} ({chosen.domain})")
    assert "chosen by the user" in state["answer"]


async def test_a_word_many_names_share_is_asked_about_with_the_closest_names(
    sandbox: Sandbox,
    contexts: Any,  # noqa: F811
) -> None:
    world = sandbox.world
    word = "Works"
    holding = {c.name for c in world.companies if word in c.name.split()}
    assert len(holding) > 2
    chat = Chat(sandbox, contexts, "a-shared-word")
    _, events = await chat.say(f"Research {word} for our sales call")
    asked = next(e for e in events if e["event"] == "choice")
    assert 2 <= len(asked["options"]) <= 5
    assert set(asked["options"]) <= holding
    shortest = min(len(n) for n in holding)  # the closest to the word: the shortest names that hold it
    assert min(len(n) for n in asked["options"]) == shortest
    state, _ = await chat.send(Command(resume=asked["options"][0]))
    chosen = next(c for c in world.companies if c.name == asked["options"][0])
    assert state["answer"].startswith(f"# Sales brief: {chosen.name} ({chosen.domain})")
    assert "chosen by the user" in state["answer"]


async def test_a_shared_suffix_is_no_reason_to_ask(sandbox: Sandbox) -> None:
    """ "Reserch Kartai Works": the enrichment source suggests every "... Works"; only one resembles "Kartai"."""
    world = sandbox.world
    company = next(
        c for c in world.companies
        if len(c.name.split()[0]) >= 6 and sum(o.name.split()[1] == c.name.split()[1] for o in world.companies) > 2
    )  # fmt: skip
    first, suffix = company.name.split()
    typo = first[:-2] + first[-1] + first[-2]  # the last two letters swapped
    result = await run(sandbox, f"Reserch {typo} {suffix} before my meeting")
    assert f"# Sales brief: {company.name} ({company.domain})" in result.answer
    assert f"taken as {company.name}" in result.answer or f"matched {company.name}" in result.answer


async def test_a_company_that_does_not_exist_is_not_guessed(sandbox: Sandbox) -> None:
    result = await run(sandbox, "Research Zzyzx Quorbble for our sales call")
    assert result.answer.startswith("I could not tell which company")
    assert not [e for e in result.evidence if e["tool"].startswith("browser.")]


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
