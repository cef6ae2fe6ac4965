"""`orchestra models`: what the learned model-tier router decides for a prompt (docs/models.md)."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.console import Console

from orchestra.routing import artifacts, tier_router

app = typer.Typer(help="The model tiers and the learned router that picks between them.", no_args_is_help=True)


@app.command()
def route(
    prompt: Annotated[str, typer.Argument(help="The prompt a step would send to a model.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as one JSON object.")] = False,
) -> None:
    """Fast or premium for PROMPT, with the probability that fast answers as well as premium.

    Example: orchestra models route "What is the capital of France?"
    """
    decision = tier_router.decide(tier_router.shipped(), prompt)
    if as_json:
        print(json.dumps(dataclasses.asdict(decision)))
        return
    card = artifacts.card(tier_router.ARTIFACT)["test"]
    console = Console()
    console.print(
        f"[bold]{decision.tier}[/bold]: p(fast answers as well as premium) {decision.p_fast_enough:.2f}; "
        f"expected gain of premium {decision.gain:+.3f} (premium above {decision.threshold:.3f})"
    )
    console.print(
        f"the router's trade-off on held-out MMLU: {card['at_threshold']['premium_share']:.0%} of prompts to premium "
        f"for {card['at_threshold']['of_premium']:.1%} of premium's accuracy"
    )
