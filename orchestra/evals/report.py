"""A suite run's results: a terminal table, JSON (what `compare` reads), JUnit XML for CI, and a self-contained HTML
page (per case: the conversation, the trajectory against the expected one, the facts found and missing)."""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from rich.markup import escape
from rich.table import Table

from orchestra.evals.runner import CaseResult
from orchestra.evals.suite import Suite

FORMAT = 1


def to_json(results: list[CaseResult], mode: str) -> dict[str, Any]:
    cases = [
        {**asdict(result), "passed": result.passed, "scored_well": result.scored_well,
         "model_calls": result.model_calls, "cost_usd": round(result.cost_usd, 6)}
        for result in results
    ]  # fmt: skip
    return {
        "format": FORMAT, "mode": mode, "cases": cases,
        "summary": {"cases": len(results), "passed": sum(r.passed for r in results),
                    "seconds": round(sum(r.seconds for r in results), 3)},
    }  # fmt: skip


def table(results: list[CaseResult]) -> Table:
    view = Table(title="Evaluation", show_lines=False)
    for column, justify in (("suite", "left"), ("case", "left"), ("result", "left"), ("scores", "left"),
                            ("model calls", "right"), ("cost $", "right"), ("time s", "right")):  # fmt: skip
        view.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        scores = " ".join(f"[green]✓[/green]{escape(s.name)}" if s.passed else f"[red]✗[/red]{escape(s.name)}"
                          for s in result.scores)  # fmt: skip
        verdict = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
        if result.known_failure:
            verdict = "[yellow]known failure[/yellow]" if not result.scored_well else "[cyan]fixed?[/cyan]"
        if result.mismatch:
            scores = "[red]request differs from the recording[/red]"
        elif result.error:
            scores = f"[red]{escape(printable(result.error[:120]))}[/red]"
        view.add_row(escape(result.suite), escape(result.case), verdict, scores, str(result.model_calls),
                     f"{result.cost_usd:.4f}", f"{result.seconds:.2f}")  # fmt: skip
    return view


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    """Text with its control characters written out (`\\x1b`): a quoted web page cannot colour a terminal or
    break the XML of a report."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def failures(results: list[CaseResult]) -> list[str]:
    """What each failed case got wrong, in full (the table only names it), and every case's notes."""
    lines = []
    for result in results:
        lines += [f"{result.suite}/{result.case}: note: {note}" for note in result.notes]
        if result.known_failure and result.scored_well:
            lines.append(f"{result.suite}/{result.case}: marked as a known failure ({result.known_failure}) but "
                         "passes now; remove its known_failure")  # fmt: skip
        if result.passed:
            continue
        why = (
            result.mismatch or result.error or "\n".join(f"{s.name}: {s.detail}" for s in result.scores if not s.passed)
        )
        lines.append(f"{result.suite}/{result.case}:\n" + "\n".join(f"  {line}" for line in why.splitlines()))
    return [printable(line) for line in lines]


def junit(results: list[CaseResult]) -> str:
    suites = ElementTree.Element("testsuites")
    by_suite: dict[str, list[CaseResult]] = {}
    for result in results:
        by_suite.setdefault(result.suite, []).append(result)
    for name, members in by_suite.items():
        node = ElementTree.SubElement(suites, "testsuite", name=name, tests=str(len(members)),
                                      failures=str(sum(not r.passed and not r.error for r in members)),
                                      errors=str(sum(bool(r.error) for r in members)),
                                      time=f"{sum(r.seconds for r in members):.3f}")  # fmt: skip
        for result in members:
            case = ElementTree.SubElement(
                node, "testcase", classname=name, name=result.case, time=f"{result.seconds:.3f}"
            )
            if result.error:
                error = printable(result.error)
                ElementTree.SubElement(case, "error", message=error[:200]).text = error
            elif not result.passed:
                why = failures([result])[-1]
                ElementTree.SubElement(case, "failure", message=why.splitlines()[1].strip()[:200]).text = why
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)


_STYLE = """body{font:15px/1.5 system-ui,sans-serif;margin:24px;color:#1d2330}h1{font-size:22px}
.case{border:1px solid #e3e6ee;border-radius:8px;margin:12px 0;padding:8px 14px}.pass{color:#1f8a4c}.fail{color:#c23b3b}
summary{cursor:pointer;font-weight:600}pre{background:#f5f6fa;padding:8px;white-space:pre-wrap;word-break:break-word;
max-height:360px;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid #e3e6ee;padding:3px 8px;
text-align:left;vertical-align:top}.user{background:#eef1fd;padding:6px 10px;border-radius:8px}"""


def html_report(results: list[CaseResult], suites: dict[str, Suite]) -> str:
    """One page, no scripts and nothing loaded from elsewhere: it opens anywhere, offline."""
    passed = sum(r.passed for r in results)
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Orchestra evaluation</title>"
             f"<style>{_STYLE}</style></head><body><h1>Orchestra evaluation: {passed} of {len(results)} cases "
             "passed</h1>"]  # fmt: skip
    for result in results:
        suite = suites.get(result.suite)
        case = next((c for c in suite.cases if c.id == result.case), None) if suite else None
        state = "pass" if result.passed else "fail"
        parts.append(f"<details class=case {'open' if not result.passed else ''}><summary><span class={state}>"
                     f"{state.upper()}</span> {_e(result.suite)} / {_e(result.case)} · {result.model_calls} model "
                     f"calls · ${result.cost_usd:.4f} · {result.seconds:.2f}s</summary>")  # fmt: skip
        if case and case.about:
            parts.append(f"<p>{_e(case.about)}</p>")
        for problem in (result.mismatch, result.error):
            if problem:
                parts.append(f"<pre class=fail>{_e(problem)}</pre>")
        for index, turn in enumerate(result.turns):
            expected = case.turns[index].expect if case and index < len(case.turns) else None
            parts.append(f"<p class=user>{_e(turn.say)}</p>")
            route = ", ".join(f"{k}: {v}" for k, v in turn.route.items() if k in ("domain", "complexity", "workflow"))
            parts.append(f"<p>Route: {_e(route)}; approvals asked: {_e(', '.join(turn.approvals) or 'none')}</p>")
            parts.append(_trajectory(turn.calls, expected.trajectory.calls if expected and expected.trajectory else []))
            parts.append(f"<details><summary>Answer</summary><pre>{_e(turn.answer)}</pre></details>")
        rows = "".join(f"<tr><td class={'pass' if s.passed else 'fail'}>{'✓' if s.passed else '✗'}</td><td>"
                       f"{_e(s.name)}</td><td>{_e(s.detail)}</td></tr>" for s in result.scores)  # fmt: skip
        parts.append(f"<table><tr><th></th><th>score</th><th>detail (facts missing, calls not made)</th></tr>{rows}"
                     "</table>")  # fmt: skip
        parts += [f"<p>{_e(note)}</p>" for note in result.notes]
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _trajectory(calls: list[dict[str, Any]], expected: list[Any]) -> str:
    made = "".join(f"<li>{_e(c['tool'])} <code>{_e(json.dumps(c['arguments'], ensure_ascii=False)[:300])}</code>"
                   f"{'' if c['ok'] else ' <span class=fail>failed</span>'}</li>" for c in calls)  # fmt: skip
    wanted = "".join(f"<li>{_e(e.tool)} <code>{_e(json.dumps(e.arguments, ensure_ascii=False))}</code></li>"
                     for e in expected)  # fmt: skip
    return (f"<table><tr><th>calls made</th><th>calls expected</th></tr><tr><td><ol>{made}</ol></td>"
            f"<td><ol>{wanted}</ol></td></tr></table>")  # fmt: skip


def _e(text: Any) -> str:
    return html.escape(str(text))


class ResultsError(ValueError):
    """A results file `compare` cannot read; the message says why."""


def _cases(results: Any, which: str) -> dict[str, dict[str, Any]]:
    if not isinstance(results, dict) or results.get("format") != FORMAT or not isinstance(results.get("cases"), list):
        raise ResultsError(f"{which}: not the results of `orchestra eval run --json` (format {FORMAT})")
    try:
        return {f"{c['suite']}/{c['case']}": c for c in results["cases"]}
    except (KeyError, TypeError):
        raise ResultsError(f"{which}: a case without suite and case names") from None


def compare(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(case, change, detail) for every case whose outcome or scores differ, and cases added or removed. A change
    is "worse" when a case stopped passing or a score stopped passing in it."""
    old, new = _cases(before, "the first file"), _cases(after, "the second file")
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append((key, "removed", ""))
            continue
        if key not in old:
            changes.append((key, "added", "pass" if new[key]["passed"] else "fail"))
            continue
        a, b = old[key], new[key]
        scores_a = {s["name"]: s["passed"] for s in a["scores"]}
        scores_b = {s["name"]: s["passed"] for s in b["scores"]}
        flipped = [f"{name} {'✓→✗' if scores_a[name] else '✗→✓'}" for name in scores_a.keys() & scores_b.keys()
                   if scores_a[name] != scores_b[name]]  # fmt: skip
        if a["passed"] != b["passed"]:
            changes.append((key, "better" if b["passed"] else "worse", "; ".join(flipped)))
        elif flipped:
            changes.append((key, "worse" if any("✓→✗" in f for f in flipped) else "better", "; ".join(flipped)))
        if b["model_calls"] != a["model_calls"] or abs(b["cost_usd"] - a["cost_usd"]) > 1e-9:
            changes.append((key, "cost", f"model calls {a['model_calls']}→{b['model_calls']}, "
                                         f"${a['cost_usd']:.4f}→${b['cost_usd']:.4f}"))  # fmt: skip
    return changes


def write_outputs(
    results: list[CaseResult], suites: dict[str, Suite], mode: str, *, json_path: Path | None,
    junit_path: Path | None, html_path: Path | None,
) -> None:  # fmt: skip
    outputs = {
        json_path: lambda: json.dumps(to_json(results, mode), indent=2, ensure_ascii=False),
        junit_path: lambda: junit(results),
        html_path: lambda: html_report(results, suites),
    }
    for path, text in outputs.items():
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text(), encoding="utf-8")
