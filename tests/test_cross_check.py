"""The offline grounding check compares numbers as numbers, knows a cut text from a claim, and still catches a lie."""

from __future__ import annotations

from typing import Any

from orchestra.graphs.cross_check import unsupported_claims
from orchestra.graphs.evidence import shorten
from orchestra.graphs.state import Evidence


def evidence(result: Any, tool: str = "warehouse.execute_query") -> Evidence:
    return Evidence(id="E1", tool=tool, arguments={}, ok=True, result=result, duration_ms=1.0)


def test_numbers_match_as_numbers_whatever_their_formatting() -> None:
    held = [evidence({"revenue": 250000, "share": 0.2371, "growth_pct": 23.71, "price": 1499.5})]
    answer = "Revenue $250,000; share 23.7%; growth 23.7; price $1,499.50 and $1,500 rounded."
    assert unsupported_claims(answer, held) == []


def test_a_planted_wrong_figure_is_still_flagged() -> None:
    held = [evidence({"employees": 482})]
    assert unsupported_claims("The company has 4,699 employees.", held) == ["the number 4699 appears in no tool result"]
    assert unsupported_claims("The company has 483 employees.", held) == ["the number 483 appears in no tool result"]


def test_a_number_cut_short_by_a_truncated_text_is_not_a_claim() -> None:
    spec = "Hero: Plans from $49, trusted by 250,000 teams worldwide and growing every single day of the year"
    shown = shorten(spec, 40)
    assert shown.endswith("…")
    assert "250,00" not in shown or shown.endswith("250,000…")
    assert unsupported_claims(f"- block: {shorten('Trusted by 250,000 teams', 21)}", []) == []


def test_figures_orchestra_computed_are_evidence_too() -> None:
    computed = evidence({"bytes": 18_342, "components": 12}, tool="orchestra.build")
    assert unsupported_claims("18,342 bytes of HTML and CSS", [computed]) == []
    assert unsupported_claims("18,343 bytes of HTML and CSS", [computed]) != []


def test_counts_read_as_people_write_them() -> None:
    from orchestra.graphs.evidence import counted

    assert counted(1, "customer") == "1 customer"
    assert counted(2089, "customer") == "2,089 customers"
    assert counted(None, "company", "companies") == "0 companies"
