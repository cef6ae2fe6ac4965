"""`orchestra eval`: record suites of tasks once, replay them on every change, compare runs (docs/evals.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestra.cli.common import ConfigOption, err, settings_or_exit
from orchestra.core.settings import OrchestraSettings, runtime_environment
from orchestra.evals.report import ResultsError, failures, table, write_outputs
from orchestra.evals.report import compare as compare_runs
from orchestra.evals.runner import CaseResult, Mode, bench_for, run_suite
from orchestra.evals.suite import Suite, SuiteError, load_suite
from orchestra.tools.gateway_client import auth_headers

app = typer.Typer(help="Evaluation suites: record tasks once, replay them on every change.", no_args_is_help=True)
SuitesArgument = Annotated[list[Path], typer.Argument(help="Suite files (YAML), e.g. evals/suites/*.yaml.")]
CaseOption = Annotated[list[str] | None, typer.Option("--case", help="Only these case ids (repeatable).")]
GatewayOption = Annotated[
    str | None, typer.Option(help="Record through a running gateway; by default one is started for the run.")
]
RealModelsOption = Annotated[
    bool,
    typer.Option("--real-models", help="Use the config's models (keys from the environment) for scripted suites too."),
]


def _suites(paths: list[Path], cases: list[str] | None) -> list[Suite]:
    try:
        loaded = [load_suite(path) for path in paths]
    except SuiteError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    unknown = set(cases or []) - {case.id for suite in loaded for case in suite.cases}
    if unknown:  # a mistyped --case must not pass a CI run by running nothing
        err.print(f"[red]error:[/red] no suite given has the case(s) {escape(', '.join(sorted(unknown)))}")
        raise typer.Exit(2)
    return loaded


async def _run(suites: list[Suite], settings: OrchestraSettings, environ: dict[str, str], mode: Mode, *,
               only: set[str] | None, real_models: bool, gateway: str | None) -> list[CaseResult]:  # fmt: skip
    results: list[CaseResult] = []
    total = sum(len([c for c in s.cases if not only or c.id in only]) for s in suites)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        bar = progress.add_task(f"{mode} cases", total=total)
        for suite in suites:
            async with bench_for(suite, settings, environ, mode, real_models=real_models, gateway_url=gateway,
                                 headers=auth_headers()) as bench:  # fmt: skip
                results += await run_suite(suite, bench, lambda _: progress.advance(bar), only)
    return results


def _finish(results: list[CaseResult], suites: list[Suite], mode: str, json_path: Path | None,
            junit_path: Path | None, html_path: Path | None) -> None:  # fmt: skip
    Console().print(table(results))
    for failure in failures(results):
        err.print(escape(failure), highlight=False)
    write_outputs(results, {s.name: s for s in suites}, mode, json_path=json_path, junit_path=junit_path,
                  html_path=html_path)  # fmt: skip
    passed = sum(r.passed for r in results)
    err.print(f"{passed} of {len(results)} cases passed in {sum(r.seconds for r in results):.2f}s ({mode})")
    raise typer.Exit(0 if passed == len(results) else 1)


@app.command("run")
def run_command(
    suites: SuitesArgument,
    rerecord: Annotated[bool, typer.Option("--rerecord", help="Run for real and write new cassettes.")] = False,
    live: Annotated[bool, typer.Option("--live", help="Run for real; write no cassette.")] = False,
    case: CaseOption = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON (for compare).")] = None,
    junit_path: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML.")] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")] = None,
    real_models: RealModelsOption = False,
    gateway: GatewayOption = None,
    langsmith: Annotated[
        bool, typer.Option("--langsmith", help="Also upload the results as a LangSmith experiment (LANGSMITH_API_KEY).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Replay suites from their cassettes: no gateway, no model, no network; a request that differs from the
    recording fails its case with a diff. `--rerecord` or `--live` run them for real instead.

    Example: `orchestra eval run evals/suites/*.yaml --html eval.html`. Exit code 1 when a case fails."""
    if rerecord and live:
        err.print("[red]error:[/red] --rerecord and --live exclude each other")
        raise typer.Exit(2)
    mode: Mode = "record" if rerecord else "live" if live else "replay"
    loaded = _suites(suites, case)
    settings = settings_or_exit(config)
    environ = runtime_environment(settings, config_path=config)
    if langsmith and not environ.get("LANGSMITH_API_KEY"):
        err.print("[red]error:[/red] --langsmith needs LANGSMITH_API_KEY in the environment")
        raise typer.Exit(2)
    results = asyncio.run(_run(loaded, settings, environ, mode, only=set(case or []) or None,
                               real_models=real_models, gateway=gateway))  # fmt: skip
    if langsmith:
        from orchestra.evals.langsmith import upload

        try:
            for experiment in upload(results, {s.name: s for s in loaded}, mode, environ):
                err.print(f"uploaded to LangSmith as the experiment {escape(experiment)}")
        except Exception as exc:  # the results stand without the upload; say why it failed, key never shown
            err.print(f"[red]LangSmith upload failed:[/red] {escape(type(exc).__name__)}: "
                      f"{escape(str(exc).replace(environ['LANGSMITH_API_KEY'], '***')[:300])}")  # fmt: skip
    _finish(results, loaded, mode, json_path, junit_path, html_path)


@app.command("record")
def record_command(
    suites: SuitesArgument,
    case: CaseOption = None,
    real_models: RealModelsOption = False,
    gateway: GatewayOption = None,
    config: ConfigOption = None,
) -> None:
    """Run suites for real (the sandbox's pools by default: `orchestra sandbox up` first) and write one cassette
    per case beside each suite, in `cassettes/<suite>/<case>.jsonl`.

    Example: `orchestra eval record evals/suites/sales.yaml`"""
    loaded = _suites(suites, case)
    settings = settings_or_exit(config)
    environ = runtime_environment(settings, config_path=config)
    results = asyncio.run(_run(loaded, settings, environ, "record", only=set(case or []) or None,
                               real_models=real_models, gateway=gateway))  # fmt: skip
    _finish(results, loaded, "record", None, None, None)


@app.command("compare")
def compare_command(
    before: Annotated[Path, typer.Argument(help="Results JSON of the earlier run (`--json`).")],
    after: Annotated[Path, typer.Argument(help="Results JSON of the later run.")],
) -> None:
    """What got better and worse between two runs' results. Example: `orchestra eval compare main.json pr.json`"""
    try:
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in (before, after)]
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] cannot read the results: {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        changes = compare_runs(*runs)
    except ResultsError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    colors = {"better": "green", "worse": "red", "added": "cyan", "removed": "yellow"}
    for case, change, detail in changes:
        color = colors.get(change, "white")
        Console().print(f"[{color}]{change:8}[/{color}] {escape(case)}  {escape(detail)}", highlight=False)
    summaries = [run.get("summary", {}) for run in runs]
    err.print(f"passed {summaries[0].get('passed')}/{summaries[0].get('cases')} → "
              f"{summaries[1].get('passed')}/{summaries[1].get('cases')}; {len(changes)} change(s)")  # fmt: skip
    raise typer.Exit(1 if any(change == "worse" for _, change, _ in changes) else 0)
