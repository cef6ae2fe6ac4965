"""`orchestra eval` without any real part: trajectory matching on hand-made trajectories, suite files, scorers,
cassettes and their diffs, reports and comparisons, and the shipped suites replayed with every socket refused."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from orchestra.core.models_config import ModelsConfig
from orchestra.core.settings import load_settings
from orchestra.evals.cassette import Cassette, CassetteError, CassetteMismatch, Placeholders
from orchestra.evals.report import ResultsError, compare, html_report, junit, to_json
from orchestra.evals.runner import Bench, CaseResult, models_changed, run_suite
from orchestra.evals.scorers import Score, TurnResult, score_turn
from orchestra.evals.suite import Expect, SuiteError, Trajectory, load_suite
from orchestra.evals.trajectory import match_trajectory
from tests.conftest import ROOT

SUITES = sorted((ROOT / "evals" / "suites").glob("*.yaml"))


def calls(*names: str, **arguments: Any) -> list[dict[str, Any]]:
    return [{"tool": name, "arguments": dict(arguments), "ok": True} for name in names]


def want(mode: str, *tools: str, arguments: str = "subset", **given: Any) -> Trajectory:
    return Trajectory.model_validate({"mode": mode, "arguments": arguments,
                                      "calls": [{"tool": t, "arguments": given} for t in tools]})  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "made", "passes"),
    [
        ("strict", ["a.x", "b.y"], True),
        ("strict", ["b.y", "a.x"], False),  # the order counts
        ("strict", ["a.x", "b.y", "c.z"], False),
        ("unordered", ["b.y", "a.x"], True),
        ("unordered", ["a.x"], False),  # b.y not made
        ("unordered", ["a.x", "b.y", "c.z"], False),  # c.z not expected
        ("subset", ["a.x", "a.x"], True),  # only expected tools, an expected one twice
        ("subset", [], True),
        ("subset", ["a.x", "c.z"], False),
        ("superset", ["c.z", "b.y", "a.x"], True),  # every expected one, and more
        ("superset", ["a.x", "c.z"], False),
    ],
)
def test_each_trajectory_mode(mode: str, made: list[str], passes: bool) -> None:
    passed, detail = match_trajectory(want(mode, "a.x", "b.y"), calls(*made))
    assert passed is passes
    assert bool(detail) is not passes  # a failure says why


def test_argument_matching_is_exact_ignored_or_a_subset_of_keys() -> None:
    made = calls("crm.search", query="copealo.example", limit=5)
    assert match_trajectory(want("superset", "crm.search", query="copealo.example"), made)[0]
    assert not match_trajectory(want("superset", "crm.search", arguments="exact", query="copealo.example"), made)[0]
    assert match_trajectory(want("superset", "crm.search", arguments="ignore", query="other"), made)[0]
    wrong, detail = match_trajectory(want("superset", "crm.search", query="other.example"), made)
    assert not wrong
    assert "other.example" in detail


def test_a_loose_expectation_does_not_take_the_call_a_strict_one_needs() -> None:
    trajectory = Trajectory.model_validate({"mode": "unordered", "calls": [
        {"tool": "a.x", "match": "ignore"}, {"tool": "a.x", "arguments": {"k": 1}}]})  # fmt: skip
    assert match_trajectory(trajectory, [*calls("a.x", k=1), *calls("a.x", k=2)])[0]


def test_facts_strings_patterns_numbers_and_limits() -> None:
    turn = TurnResult(say="q", answer="Revenue $289,760,000 (up 12.5%) [E1]", model_calls=2, cost_usd=0.01)
    expect = Expect.model_validate({
        "contains": ["Revenue", {"regex": r"\[E\d+\]"}, {"number": 289_760_000}, {"number": 12.4, "tolerance": 0.2}],
        "not_contains": ["Traceback", {"number": 5}],
        "limits": {"model_calls": 1, "cost_usd": 0.05},
    })  # fmt: skip
    scores = {s.name: s for s in score_turn(turn, expect)}
    assert scores["contains"].passed
    assert scores["not_contains"].passed
    assert scores["limit cost_usd"].passed
    assert not scores["limit model_calls"].passed
    assert scores["limit model_calls"].detail == "2 > 1"
    missing = score_turn(turn, Expect.model_validate({"contains": [{"number": 7}, "absent"]}))[0]
    assert missing.detail == "missing: 7, 'absent'"


def passes_if_short(turn: TurnResult) -> tuple[bool, str]:
    return len(turn.answer) < 10, f"{len(turn.answer)} characters"


def test_custom_scorers_are_named_functions_and_their_own_failures_are_their_scores() -> None:
    turn = TurnResult(say="q", answer="short")
    expect = Expect(scorers=["tests.test_evals:passes_if_short", "tests.test_evals:nothing", "no-colon"])
    good, missing, malformed = score_turn(turn, expect)
    assert (good.passed, good.detail) == (True, "5 characters")
    assert not missing.passed
    assert "has no function nothing" in missing.detail
    assert "not `module:function`" in malformed.detail


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("name: x\ncases: []\n", "cases"),
        ("name: x\ncases:\n  - {id: a, say: hi, surprise: 1}\n", "surprise"),
        ("name: x\ncases:\n  - {id: a, say: hi}\n  - {id: a, say: ho}\n", "case ids repeat"),
        ("name: x\nmodel: scripted\ncases:\n  - {id: a, say: hi}\n", "names its `script`"),
        ("name: x\ncases:\n  - {id: a, say: hi, expect: {contains: [{regex: a, text: b}]}}\n", "one of text, regex"),
        ("name: [x\n", "not YAML"),
    ],
)
def test_a_bad_suite_file_is_refused_naming_the_file_and_the_field(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=complaint) as refused:
        load_suite(path)
    assert str(path) in str(refused.value)


def test_a_request_the_recording_lacks_fails_with_a_diff_of_the_changed_line(tmp_path: Path) -> None:
    cassette = Cassette.new("s", "c")
    request = {"messages": [{"role": "user", "content": "You write the summary.\nKeep [E3] markers.\nBe brief."}]}
    cassette.add({"kind": "model", "tier": "premium", "request": request, "response": {"content": "ok"}})
    cassette.write(tmp_path / "c.jsonl")
    again = Cassette.read(tmp_path / "c.jsonl")
    edited = {"messages": [{"role": "user", "content": "You write the summary.\nKeep [E3] markers.\nBe long."}]}
    with pytest.raises(CassetteMismatch) as mismatch:
        again.answer("model", {"tier": "premium", **edited}, "the premium model call")
    diff = str(mismatch.value)
    assert "-messages[0].content| Be brief." in diff
    assert "+messages[0].content| Be long." in diff
    assert "Keep [E3]" in diff  # the context around it
    assert again.answer("model", {"tier": "premium", **request}, "x")["response"] == {"content": "ok"}
    with pytest.raises(CassetteMismatch, match="every recorded model call had already answered"):
        again.answer("model", {"tier": "premium", **request}, "x")


def test_an_unreadable_cassette_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="record it with `orchestra eval record`"):
        Cassette.read(tmp_path / "missing.jsonl")
    (tmp_path / "old.jsonl").write_text('{"cassette": 0}\n')
    with pytest.raises(CassetteError, match="version '0'"):
        Cassette.read(tmp_path / "old.jsonl")


def _results() -> list[CaseResult]:
    ok = CaseResult("s", "good", [TurnResult(say="hi <b>", answer="# Done & dusted")], [Score("route", True)], 0.01)
    bad = CaseResult("s", "bad", [TurnResult(say="q")], [Score("contains", False, "missing: 'x'")], 0.02)
    odd = CaseResult("s", "odd", mismatch="the fast model call differs from the recording:\n-a\n+b")
    return [ok, bad, odd]


def test_junit_and_html_reports_parse_and_say_what_failed() -> None:
    tree = ElementTree.fromstring(junit(_results()))
    suite = tree.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    failed = {case.get("name"): case.find("failure") for case in suite.iter("testcase")}
    assert failed["good"] is None
    assert "missing: 'x'" in (failed["bad"].text or "")  # type: ignore[union-attr]
    page = html_report(_results(), {})
    HTMLParser().feed(page)  # well-formed enough to parse; the browser test opens it for real
    assert "hi &lt;b&gt;" in page  # what a case said is shown, never interpreted
    assert "<script" not in page


def test_compare_says_what_got_better_and_worse() -> None:
    before = to_json(_results(), "replay")
    after = json.loads(json.dumps(before))
    after["cases"][1]["passed"] = True
    after["cases"][1]["scores"][0]["passed"] = True
    after["cases"][0]["passed"] = False
    after["cases"][0]["scores"][0]["passed"] = False
    after["cases"].append({**after["cases"][0], "case": "new"})
    changes = {(case, change) for case, change, _ in compare(before, after)}
    assert {("s/good", "worse"), ("s/bad", "better"), ("s/new", "added")} <= changes


async def _replay(suites: list[Path], data_dir: Path) -> list[CaseResult]:
    settings = load_settings(ROOT / "config" / "orchestra.yaml")
    results: list[CaseResult] = []
    for path in suites:
        results += await run_suite(load_suite(path), Bench(settings, {}, "replay", data_dir=data_dir))
    return results


async def test_the_shipped_suites_replay_without_opening_a_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("a replay must not reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    results = await _replay(SUITES, tmp_path)
    assert len(results) >= 40
    assert attempts == []
    assert [f"{r.suite}/{r.case}: {r.mismatch or r.error}" for r in results if not r.passed] == []


async def test_a_changed_prompt_fails_the_cases_that_send_it_with_a_diff_naming_the_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from orchestra.graphs.workflows import synthesis

    edited = synthesis.SUMMARY.replace("Four sentences at most", "Five sentences at most")
    monkeypatch.setattr(synthesis, "SUMMARY", edited)
    results = {r.case: r for r in await _replay([ROOT / "evals" / "suites" / "with-model.yaml"], tmp_path)}
    changed = {case for case, r in results.items() if r.mismatch}
    assert changed == {"workflow-summary", "critical-planted-figure", "follow-up-rewritten"}
    diff = results["workflow-summary"].mismatch or ""
    assert "-messages[0].content| do not add numbers, names or claims that the report does not contain. Four" in diff
    assert "+messages[0].content| do not add numbers, names or claims that the report does not contain. Five" in diff
    assert all(results[case].passed for case in results.keys() - changed)  # the others never send that prompt


def test_placeholders_replace_whole_paths_and_urls_only() -> None:
    places = Placeholders({"${DATA_DIR}": "/data", "${SANDBOX_URL}": "http://127.0.0.1:9781"})
    hidden = places.hide({"a": "metadata /data/x /database (/data) http://127.0.0.1:97810 http://127.0.0.1:9781/p"})
    assert hidden == {"a": "metadata ${DATA_DIR}/x /database (${DATA_DIR}) http://127.0.0.1:97810 ${SANDBOX_URL}/p"}
    assert places.show(hidden) == {
        "a": "metadata /data/x /database (/data) http://127.0.0.1:97810 http://127.0.0.1:9781/p"
    }


@pytest.mark.parametrize(
    ("case", "complaint"),
    [
        ({"id": "a", "say": "x", "turns": [{"say": "y"}]}, "either `say`"),
        ({"id": "a", "say": "x", "approvals": ["approved"]}, "is not an answer"),
        ({"id": "a", "say": "x", "approvals": [{"edit": "project"}]}, "is not an answer"),
        ({"id": "a", "say": "x", "expect": {"contains": [{"regex": "(unclosed"}]}}, "regex '\\(unclosed'"),
    ],
)
def test_case_mistakes_are_refused_when_the_suite_loads(tmp_path: Path, case: dict[str, Any], complaint: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(json.dumps({"name": "s", "cases": [case]}))
    with pytest.raises(SuiteError, match=complaint):
        load_suite(path)


def test_numbers_are_found_in_the_answer_not_in_citations_or_the_evidence_table() -> None:
    answer = "Revenue of $1,200 [E7, E12].\n\n## Evidence\n| E14 | `crm.search` | limit=30 | yes | 5 |"
    facts = Expect.model_validate({"contains": [{"number": 1200}], "not_contains": [{"number": 7}, {"number": 30}]})
    assert all(score.passed for score in score_turn(TurnResult(say="q", answer=answer), facts))


def test_control_characters_in_a_failure_keep_the_junit_xml_valid() -> None:
    hostile = CaseResult("s", "c", [TurnResult(say="q")], [Score("x", False, "\x01\x1b[31mred")])
    tree = ElementTree.fromstring(junit([hostile, CaseResult("s", "e", error="bad \x00 byte")]))
    assert "\\x1b[31mred" in (tree.find("testsuite/testcase/failure").text or "")  # type: ignore[union-attr]


def test_compare_refuses_what_is_not_results_and_a_score_lost_in_a_failing_case_is_worse() -> None:
    with pytest.raises(ResultsError, match="the first file"):
        compare({}, to_json(_results(), "replay"))
    before = to_json(_results(), "replay")
    after = json.loads(json.dumps(before))
    after["cases"][1]["scores"].append({"name": "x", "passed": False, "detail": ""})
    before["cases"][1]["scores"].append({"name": "x", "passed": True, "detail": ""})
    assert ("s/bad", "worse", "x ✓→✗") in compare(before, after)


def test_a_cassette_with_entries_that_are_not_calls_is_refused_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"cassette": 1}\n{"tier": "bi"}\n')
    with pytest.raises(CassetteError, match="entry 2 is not a recorded call"):
        Cassette.read(path)
    path.write_text('{"cassette": 1}\n{not json\n')
    with pytest.raises(CassetteError, match="line 2: not JSON"):
        Cassette.read(path)
    path.write_text("[1]\n")
    with pytest.raises(CassetteError, match="no cassette header"):
        Cassette.read(path)


def test_a_recording_made_with_the_configs_models_is_not_replayed_once_they_change() -> None:
    cassette = Cassette.new("s", "c", models_from="config", models={"fast": ["openai/gpt-4.1-mini"]})
    same = ModelsConfig.model_validate({"tiers": {"fast": [{"model": "openai/gpt-4.1-mini"}]}})
    other = ModelsConfig.model_validate({"tiers": {"fast": [{"model": "anthropic/claude-haiku-4-5"}]}})
    assert models_changed(cassette, same) is None
    assert "record it again with --rerecord --real-models" in (models_changed(cassette, other) or "")
    assert models_changed(Cassette.new("s", "c", models_from="scripted"), other) is None


def test_a_case_id_no_suite_has_fails_the_command_instead_of_running_nothing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "orchestra", "eval", "run", str(SUITES[0]), "--case", "no-such-case"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert "no-such-case" in run.stderr


def test_a_taped_model_records_and_replays_synchronous_calls_too() -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage

    from orchestra.evals.models import TapedChatModel

    cassette, places = Cassette.new("s", "c"), Placeholders({"${DATA_DIR}": "/data"})
    real = GenericFakeChatModel(messages=iter([AIMessage("saved in /data/out")]))
    recording = TapedChatModel(tier="fast", models=["m"], cassette=cassette, places=places, inner=real)
    assert recording.invoke([HumanMessage("write to /data/out")]).content == "saved in /data/out"
    [entry] = cassette.entries
    assert entry["request"]["messages"] == [{"role": "user", "content": "write to ${DATA_DIR}/out"}]
    moved = Placeholders({"${DATA_DIR}": "/elsewhere"})
    replaying = TapedChatModel(tier="fast", models=["m"], cassette=cassette, places=moved)
    assert replaying.invoke([HumanMessage("write to /elsewhere/out")]).content == "saved in /elsewhere/out"
