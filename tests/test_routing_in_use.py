"""The router in use: which steps ask it, what a run's usage, call log and report footer say about its decisions and
savings, and fitting its threshold to logged traffic (`orchestra models calibrate`, `orchestra models report`)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from evals.scripted_llm import reply, scripted_llm
from orchestra.cli.app import app
from orchestra.core.call_log import FileLog, record_log
from orchestra.core.llm import LLMLayer, RunUsage, usage_line
from orchestra.core.models_config import ModelsConfig, read_overrides, usage_log_path
from orchestra.routing.calibrate import CalibrationError, for_premium_share, for_quality
from orchestra.routing.choice import choose_tier
from orchestra.routing.outcomes import Outcome, from_eval_results, from_feedback, record_feedback
from tests.conftest import serving

EASY = "What is the capital of France?"  # the shipped router: fast (gain 0.047)
HARD = "Prove that the square root of 2 is irrational and derive the closed form of the integral of x^2 e^x"


def test_rules_decide_critical_and_simple_work_and_the_router_the_rest() -> None:
    assert choose_tier("specialist", EASY, "critical", None).as_dict() == {
        "step": "specialist", "tier": "premium", "by": "rule"}  # fmt: skip
    assert choose_tier("specialist", HARD, "low", None).tier == "fast"
    easy, hard = choose_tier("synthesis", EASY, "high", None), choose_tier("specialist", HARD, "high", None)
    assert (easy.by, easy.tier, hard.by, hard.tier) == ("router", "fast", "router", "premium")
    assert easy.p_fast_enough is not None
    assert easy.p_fast_enough > hard.p_fast_enough
    assert choose_tier("synthesis", HARD, "high", threshold=0.5).tier == "fast"  # a calibrated threshold wins


def two_tiers(base: str) -> ModelsConfig:
    def route(model: str) -> dict[str, str]:
        return {"model": model, "api_key": "${KEY}", "api_base": f"{base}/v1"}

    return ModelsConfig.model_validate({"tiers": {"fast": [route("openai/gpt-4.1-mini")],
                                                  "premium": [route("openai/gpt-4.1")]}})  # fmt: skip


async def test_a_routed_step_records_its_decision_and_what_fast_saved(tmp_path: Path) -> None:
    app_, received = scripted_llm(lambda body: reply("ok"))
    async with serving(app_) as base:
        layer = LLMLayer(two_tiers(base), {"KEY": "k"}, tmp_path)
        usage = RunUsage(tenant="acme", run_id="run-1")
        await layer.routed_model("synthesis", EASY, "high", usage).ainvoke([HumanMessage("summarize")])
        await layer.routed_model("specialist", HARD, "high", usage).ainvoke([HumanMessage("prove")])
    assert [body["model"] for body in received] == ["gpt-4.1-mini", "gpt-4.1"]
    fast_cost = 120 * 0.4e-6 + 30 * 1.6e-6
    premium_cost = 120 * 2e-6 + 30 * 8e-6  # LiteLLM's prices of gpt-4.1-mini and gpt-4.1
    assert usage.saved_usd == pytest.approx(premium_cost - fast_cost)
    assert [(c["step"], c["tier"], c["by"]) for c in usage.routing] == [
        ("synthesis", "fast", "router"), ("specialist", "premium", "router")]  # fmt: skip
    assert usage_line(usage.as_dict()) == (
        f"model calls: 2 (${fast_cost + premium_cost:.4f}); router: 1 of 2 steps to the fast tier, "
        f"${premium_cost - fast_cost:.4f} saved against premium"
    )
    records = list(FileLog(usage_log_path(tmp_path)).read())
    assert [(r["model"], r["tenant"], r["run_id"], r["choice"]["tier"]) for r in records] == [
        ("openai/gpt-4.1-mini", "acme", "run-1", "fast"), ("openai/gpt-4.1", "acme", "run-1", "premium")]  # fmt: skip
    assert records[0]["saved_usd"] == pytest.approx(premium_cost - fast_cost)
    assert records[1]["saved_usd"] == 0


def test_with_one_tier_nothing_is_routed(tmp_path: Path) -> None:
    only = ModelsConfig.model_validate({"tiers": {"premium": [{"model": "openai/gpt-4.1"}]}})
    usage = RunUsage()
    LLMLayer(only, {}, tmp_path).routed_model("synthesis", EASY, "high", usage)
    assert usage.routing == []


def test_a_premium_share_target_needs_no_outcomes() -> None:
    gains = [i / 100 for i in range(100)]
    fitted = for_premium_share(gains, 0.3)
    assert fitted.premium_share == pytest.approx(0.3)
    assert sum(g > fitted.threshold for g in gains) == 30
    assert for_premium_share(gains, 0.0).premium_share == 0.0
    assert for_premium_share(gains, 1.0).premium_share == 1.0
    with pytest.raises(CalibrationError, match="no routed model calls"):
        for_premium_share([], 0.3)


def synthetic_outcomes(count: int, seed: int = 7) -> list[Outcome]:
    """Fast gets worse as the gain score grows; premium is good 90% of the time whatever the score."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        gain = rng.uniform(0, 0.3)
        tier = rng.choice(["fast", "premium"])
        p_good = 0.95 - 2.5 * gain if tier == "fast" else 0.9
        found.append(Outcome(gain, tier, rng.random() < p_good))
    return found


def test_a_quality_target_sends_more_to_premium_the_higher_it_is() -> None:
    outcomes = synthetic_outcomes(2000)
    gains = [o.gain for o in outcomes]
    loose, strict = for_quality(outcomes, gains, 0.85), for_quality(outcomes, gains, 0.97)
    assert loose.premium_share < strict.premium_share
    assert loose.threshold > strict.threshold
    assert strict.of_premium_quality is not None
    assert strict.of_premium_quality >= 0.97
    assert strict.premium_share < 0.9  # low-gain steps stay on fast even at 97%
    with pytest.raises(CalibrationError, match="routed premium steps have an outcome"):
        for_quality([o for o in outcomes if o.tier == "fast"], gains, 0.95)


@pytest.mark.parametrize("kept_in", ["files", "redis"])
def test_feedback_joins_the_calls_of_its_run_and_eval_results_their_cases(
    tmp_path: Path, kept_in: str, request: pytest.FixtureRequest
) -> None:
    environ = {}
    if kept_in == "redis":  # a database of its own on the session's redis-server: the streams' names are fixed
        environ["REDIS_URL"] = request.getfixturevalue("redis_url").removesuffix("/0") + "/3"
    calls, thumbs = record_log("calls", environ, tmp_path), record_log("outcomes", environ, tmp_path)
    now = dt.datetime.now(dt.UTC).isoformat()
    calls_made = [{"ts": now, "tier": t, "tenant": "acme", "run_id": run, "cost_usd": 0.001,
                   "choice": {"step": "synthesis", "tier": t, "by": "router", "gain": g}}
                  for run, t, g in (("r1", "fast", 0.05), ("r1", "premium", 0.2), ("r2", "fast", 0.09))]  # fmt: skip
    calls_made.append({"ts": now, "tier": "fast", "tenant": "acme", "run_id": "r1"})
    for call in calls_made:
        calls.append(call)
    if kept_in == "files":
        with usage_log_path(tmp_path).open("a") as log:
            log.write('{"ts": "cut short')  # a crash mid-line loses that line only
    record_feedback(thumbs, "acme", "t1", "r1", True, "")
    record_feedback(thumbs, "globex", "t2", "r2", False, "")  # another tenant's run of the same id: no match
    assert from_feedback(calls, thumbs) == [Outcome(0.05, "fast", True), Outcome(0.2, "premium", True)]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert from_feedback(calls, thumbs, since=later) == []
    results = tmp_path / "results.json"
    turn = {"routing": [{"step": "follow_up", "tier": "fast", "by": "router", "gain": 0.1},
                        {"step": "specialist", "tier": "premium", "by": "rule"}]}  # fmt: skip
    results.write_text(json.dumps({"cases": [{"passed": False, "turns": [turn]}]}))
    assert from_eval_results([results]) == [Outcome(0.1, "fast", False)]
    (tmp_path / "other.json").write_text("[]")
    with pytest.raises(ValueError, match="not the JSON of `orchestra eval run --json`"):
        from_eval_results([tmp_path / "other.json"])


def test_calibrate_writes_the_threshold_the_layer_then_uses_and_report_shows_savings(tmp_path: Path) -> None:
    config = tmp_path / "orchestra.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    data = tmp_path / "data"
    data.mkdir()
    gains = [i / 200 for i in range(100)]
    now = dt.datetime.now(dt.UTC)
    days = [(now - dt.timedelta(days=i % 2)).isoformat() for i in range(100)]
    usage_log_path(data).write_text("".join(json.dumps({
        "ts": days[i], "tier": "fast", "model": "openai/gpt-4.1-mini",
        "cost_usd": 0.001, "saved_usd": 0.004, "choice": {"by": "router", "tier": "fast", "gain": g}}) + "\n"
        for i, g in enumerate(gains)))  # fmt: skip
    runner = CliRunner()
    dry = runner.invoke(app, ["models", "calibrate", "--max-premium", "0.25", "--config", str(config)])
    assert dry.exit_code == 0, dry.output
    assert "25% of 100 logged routed steps to premium" in dry.output
    assert read_overrides(data) == {}  # without --write nothing changes
    written = runner.invoke(app, ["models", "calibrate", "--max-premium", "0.25", "--write", "-c", str(config)])
    assert written.exit_code == 0, written.output
    threshold = read_overrides(data)["router"]["threshold"]
    assert sum(g > threshold for g in gains) == 25
    assert LLMLayer(ModelsConfig(), {}, data).router_threshold == threshold
    route = runner.invoke(app, ["models", "route", EASY, "--json", "-c", str(config)])
    assert json.loads(route.output)["threshold"] == threshold
    no_target = runner.invoke(app, ["models", "calibrate", "-c", str(config)])
    assert no_target.exit_code == 2
    assert "exactly one target" in no_target.output
    no_outcomes = runner.invoke(app, ["models", "calibrate", "--quality", "0.95", "-c", str(config)])
    assert no_outcomes.exit_code == 1
    assert "0 routed fast steps have an outcome" in no_outcomes.output
    report = json.loads(runner.invoke(app, ["models", "report", "--json", "-c", str(config)]).output)
    assert report["total"] == {
        "calls": 100,
        "cost_usd": 0.1,
        "routed": 100,
        "routed_cost_usd": 0.1,
        "to_fast": 100,
        "saved_usd": 0.4,
    }
    assert list(report["by_day"]) == sorted({day[:10] for day in days})
    table = runner.invoke(app, ["models", "report", "-c", str(config)]).output
    assert "routing cut the cost of the routed steps by 80.0%" in table


def test_damaged_records_are_skipped_and_a_wrong_results_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "orchestra.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    data = tmp_path / "data"
    data.mkdir()
    now = dt.datetime.now(dt.UTC).isoformat()
    good = {"ts": now, "cost_usd": 0.002, "saved_usd": 0.001, "choice": {"by": "router", "tier": "fast", "gain": 0.05}}
    damaged = [{"ts": now, "choice": "router"}, {"ts": now, "choice": {"by": "router", "tier": "fast", "gain": "x"}},
               {"ts": now, "choice": {"by": "router", "tier": "fast", "gain": float("nan")}}, {"ts": now},
               {"ts": now, "cost_usd": "0.1$", "saved_usd": None, "choice": [1]},
               {"ts": "2999-01-01T00:00:00+00:00", "cost_usd": 5}]  # fmt: skip
    usage_log_path(data).write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in [good, *damaged]) + b"\xff\n")
    runner = CliRunner()
    report = json.loads(runner.invoke(app, ["models", "report", "--json", "-c", str(config)]).output)
    assert report["total"] == {"calls": 6, "cost_usd": 0.002, "routed": 1, "routed_cost_usd": 0.002, "to_fast": 1,
                               "saved_usd": 0.001}  # fmt: skip
    calibrated = runner.invoke(app, ["models", "calibrate", "--max-premium", "0.5", "-c", str(config)])
    assert calibrated.exit_code == 0, calibrated.output
    assert "of 1 logged routed steps" in calibrated.output
    for name, text in (("cases.json", '{"cases": 3}'), ("passed.json", '{"cases": [{"passed": "yes"}]}'),
                       ("text.json", "not json"), ("list.json", "[]")):  # fmt: skip
        (tmp_path / name).write_text(text)
        wrong = runner.invoke(app, ["models", "calibrate", "--quality", "0.9", "--eval", str(tmp_path / name),
                                    "-c", str(config)])  # fmt: skip
        assert wrong.exit_code == 1, name
        assert f"{name}: not the JSON of `orchestra eval run --json`" in " ".join(wrong.output.split()), name
