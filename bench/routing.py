"""Triage and the model-tier router, measured the way they run: one task or prompt at a time, in this process.

Triage: accuracy on the held-out tasks of evals/datasets/triage.jsonl (written by a writer the training never saw),
the learned model beside the cues alone, and p50/p99 latency per task. Router: on its held-out 30% of the MMLU
prompts, the cost cut at 95% of the strong model's accuracy next to random routing and RouteLLM's published 45%,
and p50/p99 latency per decision. Prints a table and writes JSON under bench/results/.

    .venv/bin/python -m bench.routing
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.processes import ROOT
from evals.triage_eval import evaluate
from orchestra.routing import artifacts, tier_router
from orchestra.routing.train import TIER_DATA, latency_ms


def _router_latency(prompts: list[str]) -> dict[str, float]:
    model = tier_router.shipped()
    for prompt in prompts[:50]:
        tier_router.decide(model, prompt)
    timings = []
    for prompt in prompts:
        start = time.perf_counter()
        tier_router.decide(model, prompt)
        timings.append((time.perf_counter() - start) * 1000)
    return latency_ms(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="JSON (default: bench/results/routing-<time>.json)")
    args = parser.parse_args()
    learned, rules = evaluate("holdout"), evaluate("holdout", rules=True)
    router = artifacts.card(tier_router.ARTIFACT)["test"]
    with gzip.open(TIER_DATA, "rt", encoding="utf-8") as handle:
        prompts = [json.loads(line)["prompt"] for line in handle][::14]  # 1,003 prompts across all 57 subjects
    latency = _router_latency(prompts)
    table = Table(title="routing, side by side in one run")
    table.add_column("measure")
    table.add_column("learned", justify="right")
    table.add_column("baseline", justify="right")
    for field in ("domain", "complexity", "workflow"):
        accuracy = f"{learned[field]['accuracy']:.3f}"
        table.add_row(f"triage {field} (held-out)", accuracy, f"{rules[field]['accuracy']:.3f} cues")
    table.add_row("triage critical recall", f"{learned['critical_recall']:.3f}", f"{rules['critical_recall']:.3f} cues")
    ours, cues = learned["latency_ms"], rules["latency_ms"]
    table.add_row("triage p50 / p99 ms per task", f"{ours['p50']:.2f} / {ours['p99']:.2f}",
                  f"{cues['p50']:.2f} / {cues['p99']:.2f} cues")  # fmt: skip
    table.add_row("router cost cut at 95% (held-out MMLU)", f"{router['cost_cut_at_95']:.1%}",
                  f"{router['random_cost_cut_at_95']:.1%} random, 45% RouteLLM")  # fmt: skip
    table.add_row("router APGR", f"{router['apgr']:.3f}", "0.500 random")
    table.add_row("router p50 / p99 ms per decision", f"{latency['p50']:.3f} / {latency['p99']:.3f}", "")
    Console().print(table)
    output = args.output or ROOT / "bench" / "results" / f"routing-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    learned.pop("errors")
    rules.pop("errors")
    output.write_text(json.dumps({"machine": platform.platform(), "triage": learned, "triage_cues_only": rules,
                                  "router": router, "router_latency_ms": latency}, indent=2))  # fmt: skip
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
