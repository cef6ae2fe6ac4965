"""A tier's models fall back in order when a provider fails: the real LiteLLM Router and LangChain client against
scripted OpenAI-compatible servers on 127.0.0.1 made to fail with a 5xx, a rate limit, a timeout and a
context-window error. Retries are bounded and a model that keeps failing is set aside for the cooldown."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from evals.scripted_llm import Script, failure, reply, scripted_llm, stall
from orchestra.core.llm import LLMLayer, RunUsage
from orchestra.core.models_config import ModelsConfig
from orchestra.routing.choice import TierChoice
from tests.conftest import serving

FAST_MODELS = ["openai/gpt-4.1-mini", "openai/gpt-4.1-nano", "openai/gpt-4o-mini"]
OUTAGE = failure(500, "upstream connect error")
RATE_LIMITED = failure(429, "Rate limit reached for requests", "rate_limit_exceeded")
TOO_LONG = failure(
    400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 200000 tokens.",
    "context_length_exceeded",
)  # fmt: skip


@contextlib.asynccontextmanager
async def providers(*scripts: Script) -> AsyncIterator[tuple[list[str], list[list[dict[str, Any]]]]]:
    """One scripted provider per script; yields their base URLs and the requests each received."""
    async with contextlib.AsyncExitStack() as stack:
        bases, received = [], []
        for script in scripts:
            app, got = scripted_llm(script)
            bases.append(await stack.enter_async_context(serving(app)))
            received.append(got)
        yield bases, received


def layer(
    tmp_path: Path, fast: list[str], premium: list[str], extra: dict[str, Any] | None = None, **resilience: Any
) -> LLMLayer:
    """Fast: gpt-4.1-mini, gpt-4.1-nano, gpt-4o-mini (as many as `fast` has); premium: gpt-4.1; each at its own
    provider."""

    def routes(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"model": model, "api_key": "${KEY}", "api_base": f"{base}/v1"} for model, base in pairs]

    config = ModelsConfig.model_validate({
        "tiers": {"fast": routes(list(zip(FAST_MODELS, fast, strict=False))),
                  "premium": routes([("openai/gpt-4.1", base) for base in premium])},
        "resilience": {"timeout_s": 1, "retries": 1, "cooldown_s": 60, "allowed_fails": 1} | resilience,
    } | (extra or {}))  # fmt: skip
    return LLMLayer(config, {"KEY": "k"}, tmp_path)


def answering(text: str) -> Script:
    return lambda body: reply(f"{text} ({body['model']})")


@pytest.mark.parametrize(
    ("failing", "retried"),
    [(OUTAGE, True), (RATE_LIMITED, True), (stall(3, reply("too late")), True), (TOO_LONG, False)],
    ids=["5xx", "rate-limit", "timeout", "context-window"],
)
async def test_a_failing_model_hands_the_call_to_the_next_model_of_its_tier(
    tmp_path: Path, failing: dict[str, Any], retried: bool
) -> None:
    async with providers(lambda body: failing, answering("second"), answering("premium")) as (bases, received):
        models = layer(tmp_path, fast=bases[:2], premium=bases[2:])
        usage = RunUsage()
        answer = await models.chat_model("fast", usage).ainvoke([HumanMessage("hi")])
    assert answer.content == "second (gpt-4.1-nano)"
    assert 1 <= len(received[0]) <= (2 if retried else 1)  # bounded: one retry at most, none for a too-long prompt
    assert len(received[1]) == 1
    assert received[2] == []
    assert usage.calls == 1
    assert usage.models == {"openai/gpt-4.1-nano": 1}


async def test_a_model_that_keeps_failing_is_set_aside_for_the_cooldown(tmp_path: Path) -> None:
    async with providers(lambda body: OUTAGE, answering("second"), answering("premium")) as (bases, received):
        models = layer(tmp_path, fast=bases[:2], premium=bases[2:])
        for _ in range(3):
            answer = await models.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
            assert answer.content == "second (gpt-4.1-nano)"
    failed_at_first = len(received[0])
    assert failed_at_first <= 2  # asked during the first call only; the next two went straight to the second model
    assert len(received[1]) == 3


async def test_when_a_whole_tier_fails_the_other_tier_answers(tmp_path: Path) -> None:
    async with providers(lambda body: OUTAGE, lambda body: RATE_LIMITED, answering("premium")) as (bases, received):
        models = layer(tmp_path, fast=bases[:2], premium=bases[2:])
        answer = await models.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
    assert answer.content == "premium (gpt-4.1)"
    [logged] = list(models.calls.read())
    assert (logged["tier"], logged["model"]) == ("premium", "openai/gpt-4.1")  # charged to the tier that answered
    assert received[0]
    assert received[1]


async def test_when_every_model_fails_the_error_says_so_and_nothing_is_counted(tmp_path: Path) -> None:
    async with providers(lambda body: OUTAGE, lambda body: OUTAGE) as (bases, received):
        models = layer(tmp_path, fast=bases[:1], premium=bases[1:])
        usage = RunUsage()
        with pytest.raises(Exception, match="upstream connect error"):
            await models.chat_model("premium", usage).ainvoke([HumanMessage("hi")])
    assert usage.calls == 0
    assert 1 <= len(received[0]) <= 2
    assert 1 <= len(received[1]) <= 2


async def test_every_failing_model_of_a_tier_is_set_aside_not_only_the_first(tmp_path: Path) -> None:
    scripts = (lambda body: RATE_LIMITED, lambda body: OUTAGE, answering("third"), answering("premium"))
    async with providers(*scripts) as (bases, received):
        models = layer(tmp_path, fast=bases[:3], premium=bases[3:])
        for _ in range(3):
            answer = await models.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
            assert answer.content == "third (gpt-4o-mini)"
        asked_once = len(received[0]), len(received[1])
        await models.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
    assert asked_once == (2, 2)  # asked (and retried once) during the first call only
    assert (len(received[0]), len(received[1]), len(received[2])) == (2, 2, 4)


async def test_no_fallback_to_a_tier_whose_budget_is_spent_or_for_critical_work(tmp_path: Path) -> None:
    budgets = {"budgets": {"tiers": {"premium": {"daily_usd": 0.0001}}}}
    async with providers(lambda body: OUTAGE, answering("premium")) as (bases, received):
        models = layer(tmp_path, fast=bases[:1], premium=bases[1:], extra=budgets)
        answer = await models.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
        assert answer.content == "premium (gpt-4.1)"  # premium's $0.00048 now passes its $0.0001
        with pytest.raises(Exception, match="upstream connect error"):
            await models.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
    assert len(received[1]) == 1  # the second call did not reach premium
    async with providers(answering("fast"), lambda body: OUTAGE) as (bases, received):
        models = layer(tmp_path / "critical", fast=bases[:1], premium=bases[1:])
        critical = TierChoice("specialist", "premium", "rule")
        with pytest.raises(Exception, match="upstream connect error"):
            await models.chat_model("premium", RunUsage(), critical).ainvoke([HumanMessage("hi")])
        routed = TierChoice("synthesis", "premium", "router", 0.8, 0.2, 0.11)
        answer = await models.chat_model("premium", RunUsage(), routed).ainvoke([HumanMessage("hi")])
    assert answer.content == "fast (gpt-4.1-mini)"  # a routed step may still fall back
    assert len(received[0]) == 1
