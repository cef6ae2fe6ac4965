"""The LLM layer through the real LiteLLM and LangChain clients, against a scripted server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from pydantic import ValidationError

from evals.scripted_llm import reply, scripted_llm
from orchestra.core.call_log import record_log
from orchestra.core.llm import BudgetExceeded, LLMLayer, RunUsage
from orchestra.core.models_config import ModelsConfig, usage_log_path
from tests.conftest import serving


def models(base: str, **extra: object) -> ModelsConfig:
    route = {"model": "openai/gpt-4.1-mini", "api_key": "${SCRIPTED_KEY}", "api_base": f"{base}/v1"}
    other = {"model": "anthropic/claude-sonnet-4-5", "api_key": "${ANTHROPIC_API_KEY}"}
    return ModelsConfig.model_validate(
        {"tiers": {"fast": [route], "premium": [route], "panel": [route, other]}, **extra}
    )


def test_without_keys_the_layer_is_offline_and_hands_out_no_model(tmp_path: Path) -> None:
    layer = LLMLayer(models("http://127.0.0.1:9"), environ={}, data_dir=tmp_path)
    assert layer.offline
    with pytest.raises(RuntimeError, match="offline mode"):
        layer.chat_model("fast", RunUsage())


async def test_a_call_is_counted_priced_and_logged(tmp_path: Path) -> None:
    app, received = scripted_llm(lambda body: reply("Hello from the scripted model."))
    async with serving(app) as base:
        layer = LLMLayer(models(base), environ={"SCRIPTED_KEY": "test-key"}, data_dir=tmp_path)
        assert not layer.offline
        assert [m for m, _ in layer.panel(RunUsage())] == ["openai/gpt-4.1-mini"]  # the unkeyed one is left out
        usage = RunUsage()
        answer = await layer.chat_model("fast", usage).ainvoke([HumanMessage("hi")])
    assert answer.content == "Hello from the scripted model."
    assert received[0]["messages"][-1]["content"] == "hi"
    assert usage.calls == 1
    assert (usage.input_tokens, usage.output_tokens) == (120, 30)
    assert usage.cost_usd == pytest.approx(120 * 0.4e-6 + 30 * 1.6e-6)  # LiteLLM's price of gpt-4.1-mini
    [record] = [json.loads(line) for line in usage_log_path(tmp_path).read_text().splitlines()]
    assert record["tier"] == "fast"
    assert record["cost_usd"] == pytest.approx(usage.cost_usd)
    assert "test-key" not in usage_log_path(tmp_path).read_text()


async def test_a_spent_budget_refuses_the_next_call(tmp_path: Path) -> None:
    app, received = scripted_llm(lambda body: reply("ok"))
    spent = {"ts": dt.datetime.now(dt.UTC).isoformat(), "tier": "premium", "tenant": "other", "cost_usd": 5.0}
    (tmp_path / "llm-spend.jsonl").write_text(json.dumps(spent) + "\n" + '{"ts": "cut short')
    async with serving(app) as base:
        layer = LLMLayer(models(base, budgets={"daily_usd": 1}), environ={"SCRIPTED_KEY": "k"}, data_dir=tmp_path)
        with pytest.raises(BudgetExceeded, match="daily model budget \\(\\$1\\) is spent"):
            await layer.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
    assert received == []


async def test_budgets_per_tier_and_per_tenant_are_checked_before_the_call(tmp_path: Path) -> None:
    app, received = scripted_llm(lambda body: reply("ok"))
    budgets = {"tiers": {"premium": {"daily_usd": 0.00005}}, "per_tenant": {"daily_usd": 0.00009},
               "tenants": {"big": {"daily_usd": 1}}}  # fmt: skip
    async with serving(app) as base:
        layer = LLMLayer(models(base, budgets=budgets), environ={"SCRIPTED_KEY": "k"}, data_dir=tmp_path)
        premium, fast = RunUsage(tenant="acme"), RunUsage(tenant="acme")
        await layer.chat_model("premium", premium).ainvoke([HumanMessage("hi")])  # $0.000096: past the tier's $0.00005
        with pytest.raises(BudgetExceeded, match="daily model budget of tier premium"):
            await layer.chat_model("premium", RunUsage(tenant="other")).ainvoke([HumanMessage("hi")])
        with pytest.raises(BudgetExceeded, match="daily model budget of tenant acme \\(\\$9e-05\\)"):
            await layer.chat_model("fast", fast).ainvoke([HumanMessage("hi")])  # acme's own spend is past its limit
        await layer.chat_model("fast", RunUsage(tenant="big")).ainvoke([HumanMessage("hi")])  # a named tenant's limit
    assert len(received) == 2
    assert (premium.calls, fast.calls) == (1, 0)


async def test_spend_in_redis_is_shared_by_every_layer_that_uses_it(tmp_path: Path, redis_url: str) -> None:
    app, received = scripted_llm(lambda body: reply("ok"))
    async with serving(app) as base:
        environ = {"SCRIPTED_KEY": "k", "REDIS_URL": redis_url.removesuffix("/0") + "/4"}  # a database of its own
        config = models(base, budgets={"per_tenant": {"daily_usd": 0.00009}})
        replica_a = LLMLayer(config, environ, tmp_path / "a")
        replica_b = LLMLayer(config, environ, tmp_path / "b")
        await replica_a.chat_model("fast", RunUsage(tenant="acme")).ainvoke([HumanMessage("hi")])
        with pytest.raises(BudgetExceeded, match="tenant acme"):
            await replica_b.chat_model("fast", RunUsage(tenant="acme")).ainvoke([HumanMessage("hi")])
        await replica_b.chat_model("fast", RunUsage(tenant="zeta")).ainvoke([HumanMessage("hi")])
    now = dt.datetime.now(dt.UTC)
    assert replica_b.ledger.spent("tenant acme", "monthly", now) == pytest.approx(120 * 0.4e-6 + 30 * 1.6e-6)
    assert replica_a.ledger.spent("all", "daily", now) == pytest.approx(2 * (120 * 0.4e-6 + 30 * 1.6e-6))
    assert len(received) == 2
    logged = list(record_log("calls", environ, tmp_path).read())  # one log for every replica, in Redis
    assert [(r["tenant"], r["tier"]) for r in logged[-2:]] == [("acme", "fast"), ("zeta", "fast")]
    assert not usage_log_path(tmp_path / "a").exists()


async def test_budgets_hold_with_the_call_log_off_and_damaged_lines_are_skipped(tmp_path: Path) -> None:
    app, received = scripted_llm(lambda body: reply("ok"))
    now = dt.datetime.now(dt.UTC).isoformat()
    (tmp_path / "llm-spend.jsonl").write_bytes(
        b"\xff\xfe not text\n" + json.dumps({"ts": now, "cost_usd": None}).encode() + b"\n"
        + json.dumps({"ts": now, "cost_usd": "NaN"}).encode() + b"\n" + b'{"ts": "2026-13-45", "cost_usd": 9}\n'
    )  # fmt: skip
    usage_log_path(tmp_path).write_bytes(b"\xff\xfe\n")
    async with serving(app) as base:
        config = models(base, budgets={"daily_usd": 0.0001}, log_calls=False)
        layer = LLMLayer(config, environ={"SCRIPTED_KEY": "k"}, data_dir=tmp_path)
        for _ in range(2):  # $0.000096 each: the second starts below the limit
            await layer.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
        with pytest.raises(BudgetExceeded, match="daily model budget"):
            await layer.chat_model("fast", RunUsage()).ainvoke([HumanMessage("hi")])
    assert len(received) == 2
    assert usage_log_path(tmp_path).read_bytes() == b"\xff\xfe\n"  # the call log is off: nothing written to it


def test_a_budget_for_a_tenant_no_key_can_have_is_refused() -> None:
    with pytest.raises(ValidationError, match="'Acme Corp' is not a tenant name"):
        ModelsConfig.model_validate({"budgets": {"tenants": {"Acme Corp": {"daily_usd": 1}}}})


def test_a_model_without_a_price_is_named_when_budgets_are_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    route = {"model": "openai/gpt-9-unknown", "api_key": "${KEY}", "api_base": "http://127.0.0.1:9/v1"}
    config = ModelsConfig.model_validate({"tiers": {"fast": [route]}, "budgets": {"daily_usd": 1}})
    LLMLayer(config, {"KEY": "k"}, tmp_path)
    assert "count as $0 against the budgets: openai/gpt-9-unknown" in caplog.text
