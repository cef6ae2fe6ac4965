"""Recording for real, then replaying (issue 12): suites recorded against the session's sandbox gateway (and the
scripted model server) replay with the same scores and nothing live; the HTML report opens in Chromium cleanly."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.async_api import async_playwright

from orchestra.core.settings import load_settings
from orchestra.evals.report import html_report
from orchestra.evals.runner import CaseResult, Mode, bench_for, run_suite
from orchestra.evals.suite import Suite, load_suite
from tests.conftest import ROOT
from tests.sandbox.conftest import Sandbox

OFFLINE = """name: recorded-here
cases:
  - id: brief
    say: Research Glusa AI for our sales call
    expect:
      route: {workflow: sales_intelligence_research}
      contains: ["# Sales brief: Glusa AI"]
      trajectory: {mode: superset, calls: [{tool: enrichment.enrich_organization, arguments: {name: Glusa AI}}]}
  - id: deploy
    say: Deploy the pricing page from Figma
    approvals: [approve]
    expect:
      approvals: [deploy.deploy]
      contains: ["Deployed as"]
  - id: wrong-on-purpose
    say: Size the telehealth market
    expect: {contains: ["a fact no answer has"]}
"""
SCRIPTED = """name: recorded-here-with-model
model: scripted
script: evals.scripted.model:script
cases:
  - id: lookup
    say: what lifecycle stage is glusa.example in our crm?
    expect:
      trajectory: {mode: strict, calls: [{tool: crm.hubspot-search-objects, arguments: {query: glusa.example}}]}
      contains: ["Glusa AI is at lifecycle stage"]
      limits: {model_calls: 2}
"""


async def _run(suite: Suite, sandbox: Sandbox, mode: Mode, data_dir: Path, host_url: str = "") -> list[CaseResult]:
    settings = load_settings(ROOT / "config" / "orchestra.yaml").model_copy(update={"data_dir": data_dir})
    environ = {"ORCHESTRA_SANDBOX_URL": host_url or sandbox.host_url}
    async with bench_for(suite, settings, environ, mode, gateway_url=sandbox.gateway_url) as bench:
        return await run_suite(suite, bench)


def _scores(results: list[CaseResult]) -> list[tuple[str, list[tuple[str, bool, str]]]]:
    return [(r.case, [(s.name, s.passed, s.detail) for s in r.scores]) for r in results]


async def test_recorded_cases_replay_with_identical_scores_and_the_html_report_opens_cleanly(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    data_dir = sandbox.paths.root.parent
    suites = []
    for name, text in (("offline.yaml", OFFLINE), ("scripted.yaml", SCRIPTED)):
        (tmp_path / name).write_text(text)
        suites.append(load_suite(tmp_path / name))
    recorded = [r for suite in suites for r in await _run(suite, sandbox, "record", data_dir)]
    assert [(r.case, r.error, r.mismatch) for r in recorded if r.error or r.mismatch] == []
    assert [r.case for r in recorded if not r.passed] == ["wrong-on-purpose"]  # scored, and recorded all the same
    assert (tmp_path / "cassettes" / "recorded-here" / "wrong-on-purpose.jsonl").exists()

    replayed = [r for suite in suites for r in await _run(suite, sandbox, "replay", tmp_path / "elsewhere")]
    assert _scores(replayed) == _scores(recorded)
    assert [r.model_calls for r in replayed] == [r.model_calls for r in recorded] == [0, 0, 0, 2]
    assert all(r.seconds < recorded_case.seconds for r, recorded_case in zip(replayed, recorded, strict=True))

    moved = tmp_path / "moved"  # a cassette is portable: the sandbox's address and the data folder are placeholders
    shutil.copytree(tmp_path / "cassettes", moved / "cassettes")
    (moved / "offline.yaml").write_text(OFFLINE)
    again = await _run(load_suite(moved / "offline.yaml"), sandbox, "replay", tmp_path / "third", "http://127.0.0.1:1")
    assert _scores(again) == _scores(recorded[:3])

    page = tmp_path / "report.html"
    page.write_text(html_report(replayed, {s.name: s for s in suites}))
    console: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            tab = await browser.new_page()
            tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            tab.on("pageerror", lambda error: console.append(str(error)))
            await tab.goto(page.as_uri())
            assert await tab.locator("details.case").count() == 4
            assert "3 of 4 cases passed" in await tab.locator("h1").inner_text()
            assert await tab.locator("details.case[open]").count() == 1  # the failed one is open
        finally:
            await browser.close()
    assert console == []
