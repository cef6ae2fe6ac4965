"""`make bench` must keep working: a short run produces every row with no failed call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_gateway_benchmark_runs_and_reports_every_target(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.gateway", "--seconds", "0.5", "--levels", "1,4", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "vs direct" in run.stdout
    rows = json.loads(output.read_text())["results"]
    assert {(r["target"], r["sessions"]) for r in rows} == {
        (target, sessions) for target in ("direct", "gateway", "gateway+cache") for sessions in (1, 4)
    }
    assert all(r["errors"] == 0 and r["calls"] > 0 for r in rows)
    assert all(r["gateway_cpu_ms_per_call"] is not None for r in rows if r["target"] != "direct")


def test_eras_benchmark_measures_both_paths_beside_the_direct_call(tmp_path: Path) -> None:
    output = tmp_path / "eras.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.eras", "--seconds", "0.5", "--levels", "1,2", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "vs direct" in run.stdout
    rows = json.loads(output.read_text())["results"]
    targets = ("direct (legacy session)", "gateway, legacy session", "gateway, 2026-07-28")
    assert {(r["target"], r["loops"]) for r in rows} == {(t, loops) for t in targets for loops in (1, 2)}
    assert all(r["errors"] == 0 and r["calls"] > 0 for r in rows)


def test_server_benchmark_measures_every_target_side_by_side(tmp_path: Path) -> None:
    output = tmp_path / "server.json"
    arguments = ["--runs", "3", "--levels", "1,2", "--seconds", "0.5", "--streams", "6", "--output", str(output)]
    run = subprocess.run(
        [sys.executable, "-m", "bench.server", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "overhead p50" in run.stdout
    results = {r["target"]: r for r in json.loads(output.read_text())["results"]}
    assert set(results) == {"serve", "langgraph-dev", "serve-redis-x2"}
    for result in results.values():
        assert result["throughput_errors"] == 0
        assert result["stream_errors"] == 0
        assert set(result["runs_per_second"]) == {"1", "2"}
        assert all(result["runs_per_second"].values())
        assert result["graph_ms"]["p50"] > 0
        assert result["wall_ms"]["p50"] > result["graph_ms"]["p50"]  # the overhead is what the graph did not take


def test_evals_benchmark_runs_cases_live_and_replayed_side_by_side(tmp_path: Path) -> None:
    output = tmp_path / "evals.json"
    suite = str(ROOT / "evals" / "suites" / "questions.yaml")
    run = subprocess.run(
        [sys.executable, "-m", "bench.evals", "--suites", suite, "--rounds", "1", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["live"]["cases"] == result["replay"]["cases"] == 5
    assert result["same_scores"] == 5
    assert result["speedup"] > 1
