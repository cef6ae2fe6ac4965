"""The official MCP conformance suite, against our conformance servers directly and through the gateway (issue 10).

Two servers of ours: tests/upstreams/conformance_server.py (FastMCP of mcp 1.x, revisions up to 2025-11-25) and
tests/upstreams/modern_conformance_server.py (mcp 2.x, revision 2026-07-28, from .venv-mcp2). Directly, every
scenario of `server --suite all` passes against each. Through each gateway endpoint, every scenario that passes
directly must pass too, except the ones named in EXPECTED_FAILURES; an expected failure that starts passing fails
the test as well, so the list only shrinks as the gateway learns MCP. Each entry names the issue-10 item that
fixes it. Per-scenario results (and every checks.json the suite wrote) are kept in the test's temporary directory;
`python -m tests.conformance` prints the same table by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conformance.harness import (
    SuiteRun,
    check_installed,
    compare,
    conformance_server,
    gateways,
    lost_checks,
    run_everywhere,
    scenario_names,
    table,
)

pytestmark = pytest.mark.integration

# (label, server, suite version, --spec-version). 0.1.16 scores 2025-06-18 and 2025-11-25; the 0.2.0 prerelease
# adds the session-lifecycle scenario and runs SSE polling (SEP-1699) on the negotiated version, and scores
# 2026-07-28 against our server of that revision (tests/upstreams/modern_conformance_server.py, on mcp 2.x).
SUITE_RUNS = [
    ("0.1.16", "legacy", "0.1.16", None),
    ("0.2.0-alpha.12/2025-11-25", "legacy", "0.2.0-alpha.12", "2025-11-25"),
    ("0.2.0-alpha.12/2026-07-28", "modern", "0.2.0-alpha.12", "2026-07-28"),
]
LABELS = [label for label, *_ in SUITE_RUNS]
GATEWAY_ENDPOINTS = ["pool", "tier", "all", "stdio-pool"]

# scenario -> (issue-10 item that fixes it, what the gateway does wrong today)
_ON_EVERY_ENDPOINT: dict[str, tuple[int, str]] = {}
# On tier and `/mcp` endpoints listings show `<pool>__<name>` (names that stay the same when a pool joins the
# endpoint; a name sent without its pool is answered when one pool has it). A scenario that looks a tool up by its
# upstream name in tools/list cannot find it there: the namespacing the issue asks for, not a gap to close.
_NAMESPACED: dict[str, tuple[int, str]] = {
    "json-schema-2020-12": (1, "tools/list names the tool 'conformance__json_schema_2020_12_tool' on this endpoint"),
}
EXPECTED_FAILURES: dict[str, dict[str, tuple[int, str]]] = {
    "pool": _ON_EVERY_ENDPOINT,
    "stdio-pool": _ON_EVERY_ENDPOINT,
    "tier": {**_ON_EVERY_ENDPOINT, **_NAMESPACED},
    "all": {**_ON_EVERY_ENDPOINT, **_NAMESPACED},
}


@pytest.fixture(scope="module")
async def conformance_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, SuiteRun]]:
    """Every suite run against every endpoint, once: {suite: {endpoint: run}}."""
    problem = check_installed(modern=True)
    if problem:
        pytest.fail(problem)
    out = tmp_path_factory.mktemp("conformance")
    runs: dict[str, dict[str, SuiteRun]] = {}
    for server in ("legacy", "modern"):
        with conformance_server(modern=server == "modern") as server_url:
            async with gateways(server_url, modern=server == "modern") as urls:
                for label, of, suite, spec_version in SUITE_RUNS:
                    if of == server:
                        runs[label] = await run_everywhere(suite, urls, out / label.replace("/", "@"), spec_version)
    _record(out, runs)
    return runs


def _record(out: Path, runs: dict[str, dict[str, SuiteRun]]) -> None:
    """results.json (per suite, endpoint and scenario) and table.txt next to the suite's own checks.json files."""
    results = {
        suite: {
            endpoint: {
                "seconds": round(run.seconds, 1),
                "passed": f"{len(run.passed())}/{len(run.scenarios)}",
                "scenarios": {name: s.failures or "passed" for name, s in sorted(run.scenarios.items())},
                "lost_checks": lost_checks(by_endpoint["direct"], run) if endpoint != "direct" else {},
            }
            for endpoint, run in by_endpoint.items()
        }
        for suite, by_endpoint in runs.items()
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "table.txt").write_text("\n\n".join(f"suite {suite}\n{table(r)}" for suite, r in runs.items()) + "\n")


@pytest.mark.parametrize("suite", LABELS)
async def test_our_servers_pass_every_scenario_directly(
    conformance_runs: dict[str, dict[str, SuiteRun]], suite: str
) -> None:
    direct = conformance_runs[suite]["direct"]
    assert len(direct.scenarios) >= 30, direct.output[-2000:]
    failing = {name: s.failures for name, s in direct.scenarios.items() if not s.passed}
    assert not failing, f"suite {suite} fails directly against our conformance server: {failing}"


@pytest.mark.parametrize("endpoint", GATEWAY_ENDPOINTS)
@pytest.mark.parametrize("suite", LABELS)
async def test_the_gateway_passes_what_the_server_passes(
    conformance_runs: dict[str, dict[str, SuiteRun]], suite: str, endpoint: str
) -> None:
    runs = conformance_runs[suite]
    direct, through = runs["direct"], runs[endpoint]
    expected = EXPECTED_FAILURES[endpoint]
    failing = compare(direct, through)
    unexpected = {name: reason for name, reason in failing.items() if name not in expected}
    fixed = sorted(name for name in expected if name in through.scenarios and through.scenarios[name].passed)
    report = f"suite {suite}, {endpoint} at {through.url}\n{table({'direct': direct, endpoint: through})}"
    assert not unexpected, f"scenarios that pass directly fail through the gateway: {unexpected}\n{report}"
    assert not fixed, f"expected failures that now pass; remove them from EXPECTED_FAILURES: {fixed}\n{report}"


def test_expected_failures_name_real_scenarios() -> None:
    if check_installed():
        pytest.skip(check_installed())
    known = {name for _, _, suite, spec_version in SUITE_RUNS for name in scenario_names(suite, spec_version)}
    for endpoint, entries in EXPECTED_FAILURES.items():
        assert endpoint in GATEWAY_ENDPOINTS
        assert set(entries) <= known, set(entries) - known
        assert all(1 <= item <= 12 and reason for item, reason in entries.values())
