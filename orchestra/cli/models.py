"""`orchestra models`: the learned model-tier router: its decision for a prompt, its threshold fitted to a team's
own traffic, and what it saved (docs/models.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestra.cli.common import ConfigOption, err, settings_or_exit
from orchestra.core.call_log import record_log
from orchestra.core.models_config import calibrated_threshold, read_overrides, write_overrides
from orchestra.routing import artifacts, outcomes, savings, tier_router
from orchestra.routing import calibrate as calibration

app = typer.Typer(help="The model tiers and the learned router that picks between them.", no_args_is_help=True)


@app.command()
def route(
    prompt: Annotated[str, typer.Argument(help="The prompt a step would send to a model.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Fast or premium for PROMPT, with the probability that fast answers as well as premium (at the threshold
    `models calibrate` saved, else the shipped one).

    Example: orchestra models route "What is the capital of France?"
    """
    threshold = calibrated_threshold(read_overrides(settings_or_exit(config).data_dir))
    decision = tier_router.decide(tier_router.shipped(), prompt, threshold)
    if as_json:
        print(json.dumps(dataclasses.asdict(decision)))
        return
    card = artifacts.card(tier_router.ARTIFACT)["test"]
    console = Console()
    console.print(
        f"[bold]{decision.tier}[/bold]: p(fast answers as well as premium) {decision.p_fast_enough:.2f}; "
        f"expected gain of premium {decision.gain:+.3f} (premium above {decision.threshold:.3f}, "
        f"{'calibrated on your traffic' if threshold is not None else 'the shipped threshold'})"
    )
    if threshold is not None:
        return  # the MMLU trade-off below is the shipped threshold's
    console.print(
        f"the router's trade-off on held-out MMLU: {card['at_threshold']['premium_share']:.0%} of prompts to premium "
        f"for {card['at_threshold']['of_premium']:.1%} of premium's accuracy"
    )


@app.command()
def calibrate(
    max_premium: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Send at most this share of routed steps to premium.")
    ] = None,
    quality: Annotated[
        float | None, typer.Option(min=0.5, max=1.0, help="Keep this share of premium's quality (e.g. 0.95).")
    ] = None,
    eval_results: Annotated[
        list[Path] | None, typer.Option("--eval", help="Also learn from `orchestra eval run --json` results.")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Use the calls logged in the last DAYS days.")] = 30,
    write: Annotated[bool, typer.Option("--write", help="Save the threshold for the LLM layer to use.")] = False,
    config: ConfigOption = None,
) -> None:
    """Fit the router's threshold to your own traffic, for a premium share or a quality target.

    Examples: orchestra models calibrate --max-premium 0.3 --write;
    orchestra models calibrate --quality 0.95 --eval var/eval/results.json
    """
    if (max_premium is None) == (quality is None):
        err.print("give exactly one target: --max-premium SHARE or --quality SHARE")
        raise typer.Exit(2)
    settings = settings_or_exit(config)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    calls = record_log("calls", dict(os.environ), settings.data_dir, settings.server.key_prefix)
    try:
        gains = [gain for gain, _, _ in outcomes.routed_steps(calls, since)]
        if max_premium is not None:
            fitted = calibration.for_premium_share(gains, max_premium)
        else:
            thumbs = record_log("outcomes", dict(os.environ), settings.data_dir, settings.server.key_prefix)
            found = outcomes.from_feedback(calls, thumbs, since) + outcomes.from_eval_results(eval_results or [])
            fitted = calibration.for_quality(found, gains, quality or 0.0)
    except (calibration.CalibrationError, ValueError, OSError, RedisError) as exc:
        err.print(f"[red]cannot calibrate[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    current = calibrated_threshold(read_overrides(settings.data_dir))
    shipped = tier_router.shipped()["threshold"]
    quality_note = f", {fitted.of_premium_quality:.1%} of premium's quality" if fitted.of_premium_quality else ""
    Console().print(
        f"threshold {fitted.threshold:.4f}: {fitted.premium_share:.0%} of {fitted.steps} logged routed steps to "
        f"premium{quality_note} ({fitted.outcomes} with an outcome); in use now: "
        f"{current if current is not None else shipped:.4f} ({'calibrated' if current is not None else 'shipped'})"
    )
    if write:
        overrides = read_overrides(settings.data_dir)
        overrides["router"] = {"threshold": fitted.threshold, **dataclasses.asdict(fitted),
                               "calibrated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
        write_overrides(settings.data_dir, overrides)
        Console().print("saved; servers and runs started from now on route with it")


@app.command()
def report(
    days: Annotated[int, typer.Option(min=1, max=366, help="The last DAYS days.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Model spend and what the router saved against sending its steps to premium, per day.

    Example: orchestra models report --days 7
    """
    settings = settings_or_exit(config)
    now = dt.datetime.now(dt.UTC)
    try:
        logged = record_log("calls", dict(os.environ), settings.data_dir, settings.server.key_prefix).read(
            now - dt.timedelta(days=days)
        )
        found = savings.summarize(r for r in logged if dt.datetime.fromisoformat(r["ts"]) <= now)
    except (OSError, RedisError) as exc:
        err.print(f"[red]cannot read the call log[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({"days": days, **found}))
        return
    view = Table(title=f"Model calls in the last {days} days")
    for column in ("day", "calls", "cost $", "routed calls", "to fast", "saved $", "without routing $"):
        view.add_column(column, justify="left" if column == "day" else "right")
    for day, row in [*found["by_day"].items(), ("total", found["total"])]:
        view.add_row(day, str(row["calls"]), f"{row['cost_usd']:.4f}", str(row["routed"]), str(row["to_fast"]),
                     f"{row['saved_usd']:.4f}", f"{row['cost_usd'] + row['saved_usd']:.4f}")  # fmt: skip
    Console().print(view)
    total = found["total"]
    if total["calls"] == 0:
        Console().print("no model calls logged in this period (offline, or models.log_calls is off)")
    elif total["routed_cost_usd"] + total["saved_usd"] > 0:
        cut = total["saved_usd"] / (total["routed_cost_usd"] + total["saved_usd"])
        Console().print(f"routing cut the cost of the routed steps by {cut:.1%} against sending them to premium")
