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
