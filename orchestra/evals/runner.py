"""Running a suite's cases: replayed from their cassettes (the default: no gateway, no model, no socket), recorded
(for real, writing the cassettes), or live (for real, writing nothing).

Recording and live runs reach the tools through a gateway started for the run on the settings' pools (the sandbox's
by default: `orchestra sandbox up` first) and the models of the settings, or, for a suite recorded against a
scripted model, that script served as an OpenAI-compatible endpoint on 127.0.0.1 (unless `real_models`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.memory import InMemorySaver

from orchestra.core.llm import RunUsage
from orchestra.core.models_config import ModelsConfig
from orchestra.core.settings import OrchestraSettings
from orchestra.evals.cassette import Cassette, CassetteError, Placeholders
from orchestra.evals.models import TapedLLM
from orchestra.evals.scorers import Score, TurnResult, load_function, score_turn
from orchestra.evals.suite import Answer, Case, Suite
from orchestra.evals.tools import TapedTools
from orchestra.graphs.context import run_context
from orchestra.graphs.runner import RunResult, run_turn
from orchestra.graphs.supervisor import build_graph

Mode = Literal["replay", "record", "live"]
SCRIPTED_MODELS = {"fast": "openai/scripted-fast", "premium": "openai/scripted-premium",
                   "panel": ["openai/scripted-panel-a", "openai/scripted-panel-b"]}  # fmt: skip


class NoAnswerLeft(RuntimeError):
    """The run asked for an approval (or a choice) the case has no answer for."""


@dataclass
class CaseResult:
    suite: str
    case: str
    turns: list[TurnResult] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)  # each turn's, the turn number in front of their names
    seconds: float = 0.0
    mismatch: str | None = None  # the request that differed from the recording, as a diff
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    known_failure: str | None = None  # the case's own word that it fails today, and why

    @property
    def scored_well(self) -> bool:
        return self.mismatch is None and self.error is None and all(score.passed for score in self.scores)

    @property
    def passed(self) -> bool:
        """A known failure passes while it fails as it is known to (not by a mismatch or an error); one that scores
        well is also fine, and the report says it can lose its mark."""
        if self.known_failure and self.mismatch is None and self.error is None:
            return True
        return self.scored_well

    @property
    def model_calls(self) -> int:
        return sum(turn.model_calls for turn in self.turns)

    @property
    def cost_usd(self) -> float:
        return sum(turn.cost_usd for turn in self.turns)


@dataclass
class Bench:
    """Where a suite's cases run: the settings, and for recording and live runs the gateway and models."""

    settings: OrchestraSettings
    environ: dict[str, str]
    mode: Mode
    gateway_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    models: ModelsConfig | None = None
    data_dir: Path = Path(".")
    models_from: str = "none"  # none | scripted | config: what a recording's model calls went to
    # One checkpointer and one compiled supervisor for the suite (each case has a thread of its own).
    saver: InMemorySaver = field(default_factory=InMemorySaver)
    graph: Any = None

    def __post_init__(self) -> None:
        self.graph = build_graph().compile(checkpointer=self.saver)


def _answer(answer: Answer) -> dict[str, Any]:
    """A case's answer (one of the five forms the suite's loading allows) in the form the run's approver gives."""
    if answer in ("approve", "reject"):
        return {"action": answer}
    assert isinstance(answer, dict)
    if "reject" in answer:
        return {"action": "reject", "reason": str(answer["reject"])}
    if "edit" in answer:
        return {"action": "edit", "arguments": dict(answer["edit"])}
    return {"choice": str(answer["choose"])}


def _approver(answers: list[Answer], asked: list[str]) -> Callable[[dict[str, Any]], Any]:
    left = list(answers)

    async def approve(request: dict[str, Any]) -> dict[str, Any]:
        tool, pool = str(request.get("tool", "")), request.get("pool")
        label = tool if "." in tool or not pool else f"{pool}.{tool}"
        asked.append("choice" if request.get("kind") == "choice" else label.replace("__", ".", 1))  # pool.tool
        if not left:
            raise NoAnswerLeft(f"the run asked about {asked[-1]} and the case has no answer left for it")
        return _answer(left.pop(0))

    return approve


def _turn_result(
    say: str, result: RunResult, calls: list[dict[str, Any]], asked: list[str], usage: RunUsage, seconds: float
) -> TurnResult:
    return TurnResult(say=say, answer=result.answer, route=result.triage, calls=calls, approvals=asked,
                      flags=result.flags, model_calls=usage.calls, cost_usd=round(usage.cost_usd, 6),
                      seconds=round(seconds, 3), routing=list(usage.routing))  # fmt: skip


async def run_case(suite: Suite, case: Case, bench: Bench) -> CaseResult:
    outcome = CaseResult(suite.name, case.id, known_failure=case.known_failure)
    path = suite.cassette_path(case)
    try:
        cassette = await asyncio.to_thread(Cassette.read, path) if bench.mode == "replay" else Cassette.new(
            suite.name, case.id, recorded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            orchestra=version("mcp-orchestra"), model=suite.model, models_from=bench.models_from,
        )  # fmt: skip
    except CassetteError as exc:
        outcome.error = str(exc)
        return outcome
    if bench.mode == "replay" and (changed := models_changed(cassette, bench.settings.models)):
        outcome.mismatch = changed
        return outcome
    sandbox_url = bench.environ.get("ORCHESTRA_SANDBOX_URL") or bench.settings.sandbox.base_url
    places = Placeholders({"${DATA_DIR}": str(bench.data_dir), "${SANDBOX_URL}": sandbox_url.rstrip("/")})
    settings = bench.settings.model_copy(update={"data_dir": bench.data_dir})
    recording = bench.mode != "replay"
    tools = TapedTools(cassette, places, bench.gateway_url if recording else None, bench.headers)
    llm = await asyncio.to_thread(  # it reads the models admin's overrides from the data folder
        TapedLLM, bench.models or ModelsConfig(), bench.environ, bench.data_dir, cassette, places, recording
    )
    context = run_context(settings, tools, llm)
    thread = uuid.uuid4().hex
    started = time.perf_counter()
    try:
        for number, turn in enumerate(case.turns, start=1):
            context.usage, asked = RunUsage(), []
            began, calls_before, answered_before = time.perf_counter(), len(tools.made), cassette.answered_ms
            approve = _approver(turn.approvals, asked)
            result = await run_turn(turn.say, context, bench.saver, thread, approve=approve, graph=bench.graph)
            calls = tools.made[calls_before:]
            # A replay's turn takes what its recorded calls took, so `limits.seconds` judges it as it was recorded.
            took = time.perf_counter() - began + (cassette.answered_ms - answered_before) / 1000
            done = _turn_result(turn.say, result, calls, asked, context.usage, took)
            outcome.turns.append(done)
            prefix = f"turn {number}: " if len(case.turns) > 1 else ""
            scores = score_turn(done, turn.expect)
            if len(asked) < len(turn.approvals):  # an answer the run never asked for: the approval did not happen
                unused = turn.approvals[len(asked) :]
                scores.append(Score("approvals answered", False, f"the run never asked for the answers {unused}"))
            outcome.scores += [Score(prefix + s.name, s.passed, s.detail) for s in scores]
            if cassette.mismatches:
                break
    except Exception as exc:  # the case fails, saying why; the suite goes on
        if not cassette.mismatches:
            outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        await tools.aclose()
        outcome.seconds = round(time.perf_counter() - started, 3)
    if cassette.mismatches:
        outcome.mismatch = cassette.mismatches[0]
    elif bench.mode == "replay" and (left := len(cassette.unused("tool")) + len(cassette.unused("model"))):
        outcome.notes.append(f"{left} recorded call(s) were not made this time")
    if bench.mode == "record" and outcome.error is None:
        await asyncio.to_thread(cassette.write, path)
    return outcome


def models_changed(cassette: Cassette, configured: ModelsConfig) -> str | None:
    """A recording made with the config's models replays only while the config names the same ones: a model
    change is evaluated by recording again (`--rerecord --real-models`), never replayed as if nothing changed."""
    if cassette.header.get("models_from") != "config":
        return None
    now = {tier: [route.model for route in routes] for tier, routes in configured.tiers.items() if routes}
    then = {tier: names for tier, names in (cassette.header.get("models") or {}).items() if names}
    if now == then:
        return None
    return (f"the config's models changed since this case was recorded (recorded: {then}; now: {now}); "
            "record it again with --rerecord --real-models to evaluate them")  # fmt: skip


@contextlib.asynccontextmanager
async def bench_for(
    suite: Suite, settings: OrchestraSettings, environ: dict[str, str], mode: Mode, *, real_models: bool = False,
    gateway_url: str | None = None, headers: dict[str, str] | None = None,
) -> AsyncIterator[Bench]:  # fmt: skip
    """What a suite's cases run on, for the suite's whole run: for a replay a scratch data directory and nothing
    else; otherwise a gateway (unless `gateway_url`) and the models (the scripted one, unless `real_models`)."""
    if mode == "replay":
        scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="orchestra-eval-"))  # an absolute path
        try:
            yield Bench(settings, environ, mode, data_dir=scratch)
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)
        return
    data_dir = await asyncio.to_thread(settings.data_dir.resolve)
    async with contextlib.AsyncExitStack() as stack:
        if gateway_url is None:
            from orchestra.gateway.server import embedded_gateway

            gateway_url = await stack.enter_async_context(embedded_gateway(settings.gateway, environ))
        models, models_from = ModelsConfig(), "none"  # a suite without a model stays offline, whatever the keys
        if suite.model == "scripted" and real_models:
            models, models_from = settings.models, "config"
        elif suite.model == "scripted":
            models, models_from = await stack.enter_async_context(_scripted_models(suite)), "scripted"
        yield Bench(settings, environ, mode, gateway_url, headers or {}, models, data_dir, models_from=models_from)


@contextlib.asynccontextmanager
async def _scripted_models(suite: Suite) -> AsyncIterator[ModelsConfig]:
    """The suite's script served as an OpenAI-compatible endpoint on 127.0.0.1, as every tier's model."""
    from orchestra.core.serving import serve_in_loop

    assert suite.script is not None
    serve = load_function("evals.scripted_llm:scripted_llm")
    app, _ = serve(load_function(suite.script))
    async with serve_in_loop(app) as base:

        def route(model: str) -> dict[str, str]:
            return {"model": model, "api_key": "scripted", "api_base": f"{base}/v1"}

        tiers = {tier: [route(m) for m in (names if isinstance(names, list) else [names])]
                 for tier, names in SCRIPTED_MODELS.items()}  # fmt: skip
        yield ModelsConfig.model_validate({"tiers": tiers, "log_calls": False})


async def run_suite(
    suite: Suite, bench: Bench, progress: Callable[[CaseResult], None] | None = None, only: set[str] | None = None
) -> list[CaseResult]:
    results = []
    for case in suite.cases:
        if only and case.id not in only:
            continue
        result = await run_case(suite, case, bench)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
