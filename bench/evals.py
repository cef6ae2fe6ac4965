"""Replaying the shipped evaluation suites against running them live, side by side in one run.

Live: `orchestra eval run --live` on a sandbox and gateway of the benchmark's own (the scripted model for the suite
recorded against it), writing no cassette. Replay: `orchestra eval run` from the cassettes. Both count each case's
own time (what `--json` reports; process start-up and the gateway's are left out), and also the whole command's
wall time. Prints a table and writes JSON under bench/results/.

    .venv/bin/python -m bench.evals [--suites evals/suites/sales.yaml,...] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.processes import ROOT, free_port

ORCHESTRA = [sys.executable, "-m", "orchestra"]


def _eval(suites: list[str], env: dict[str, str], output: Path, *, live: bool) -> dict[str, Any]:
    started = time.perf_counter()
    command = [*ORCHESTRA, "eval", "run", *suites, "--json", str(output), *(["--live"] if live else [])]
    done = subprocess.run(command, env=os.environ | env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if done.returncode not in (0, 1):  # 1: a case failed, which the figures still describe
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    results = json.loads(output.read_text())
    cases = results["cases"]
    seconds = sum(case["seconds"] for case in cases)
    return {"cases": len(cases), "passed": sum(case["passed"] for case in cases), "case_seconds": round(seconds, 3),
            "cases_per_second": round(len(cases) / seconds, 2) if seconds else None,
            "wall_seconds": round(time.perf_counter() - started, 3),
            "scores": {f"{c['suite']}/{c['case']}": [s["passed"] for s in c["scores"]] for c in cases}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suites", default=None, help="Comma-separated suite files (default: evals/suites/*.yaml).")
    parser.add_argument("--rounds", type=int, default=3, help="Replay rounds (the best is kept; live runs once).")
    parser.add_argument("--output", type=Path, default=None, help="JSON (default: bench/results/evals-<time>.json)")
    args = parser.parse_args()
    suites = (
        args.suites.split(",") if args.suites else sorted(str(p) for p in (ROOT / "evals" / "suites").glob("*.yaml"))
    )
    with tempfile.TemporaryDirectory(prefix="orchestra-bench-evals-") as folder:
        work = Path(folder)
        env = {"ORCHESTRA_DATA_DIR": str(work / "data"), "ORCHESTRA_SANDBOX__PORT": str(free_port()),
               "ORCHESTRA_CONFIG": str(ROOT / "config" / "orchestra.yaml")}  # fmt: skip
        subprocess.run([*ORCHESTRA, "sandbox", "up"], env=os.environ | env, cwd=ROOT, check=True, capture_output=True,
                       timeout=600)  # fmt: skip
        try:
            live = _eval(suites, env, work / "live.json", live=True)
            replays = [_eval(suites, env, work / f"replay-{n}.json", live=False) for n in range(args.rounds)]
        finally:
            subprocess.run([*ORCHESTRA, "sandbox", "down"], env=os.environ | env, cwd=ROOT, capture_output=True,
                           timeout=60)  # fmt: skip
    replay = min(replays, key=lambda r: r["case_seconds"])
    agree = sum(live["scores"][case] == scores for case, scores in replay["scores"].items())
    speedup = live["case_seconds"] / replay["case_seconds"] if replay["case_seconds"] else None
    table = Table(title=f"{replay['cases']} shipped cases: replay against live, same machine, same run")
    for column in ("", "live", "replay", "replay / live"):
        table.add_column(column, justify="right")
    table.add_row("cases per second", f"{live['cases_per_second']}", f"{replay['cases_per_second']}",
                  f"{speedup:.0f}x" if speedup else "-")  # fmt: skip
    table.add_row("cases' own time", f"{live['case_seconds']:.2f} s", f"{replay['case_seconds']:.2f} s", "")
    table.add_row("command wall time", f"{live['wall_seconds']:.2f} s", f"{replay['wall_seconds']:.2f} s",
                  f"{live['wall_seconds'] / replay['wall_seconds']:.1f}x")  # fmt: skip
    table.add_row("cases passed", f"{live['passed']}", f"{replay['passed']}", "")
    table.add_row("same scores as live", "", f"{agree} of {replay['cases']}", "")
    Console().print(table)
    output = args.output or ROOT / "bench" / "results" / f"evals-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    output.write_text(json.dumps({"machine": machine, "live": live, "replay": replay, "replay_rounds": replays,
                                  "speedup": speedup, "same_scores": agree}, indent=2))  # fmt: skip
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
