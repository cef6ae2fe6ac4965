"""Prometheus metrics of `orchestra serve`, in a registry of its own (`/metrics`): runs by graph and status, run
duration, time to first event, queue depth, executing runs, open streams, model calls, tokens and cost."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from orchestra.core.llm import RunUsage
from orchestra.server.records import RunRecord

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)


class ServerMetrics:
    def __init__(self, queue_depth: Callable[[], int], executing: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter("orchestra_server_runs", "Runs ended, by graph and status.", ["graph", "status"],
                            registry=r)  # fmt: skip
        self.duration = Histogram("orchestra_server_run_duration_seconds", "From a run's start to its end.",
                                  ["graph"], buckets=_DURATION_BUCKETS, registry=r)  # fmt: skip
        self.first_event_latency = Histogram(
            "orchestra_server_time_to_first_event_seconds",
            "From a run's creation to its first event from the graph.", ["graph"], buckets=_LATENCY_BUCKETS,
            registry=r,
        )  # fmt: skip
        Gauge("orchestra_server_queue_depth", "Runs admitted and waiting to execute.", registry=r).set_function(
            lambda: queue_depth()
        )
        Gauge("orchestra_server_active_runs", "Runs executing now.", registry=r).set_function(lambda: executing())
        self.streams = Gauge("orchestra_server_active_streams", "Open SSE streams.", registry=r)
        self.model_calls = Counter("orchestra_server_model_calls", "Model calls made by runs.", ["graph"], registry=r)
        self.model_tokens = Counter("orchestra_server_model_tokens", "Model tokens used by runs.", ["graph", "kind"],
                                    registry=r)  # fmt: skip
        self.model_cost = Counter("orchestra_server_model_cost_usd", "Model cost of runs, in USD (LiteLLM prices).",
                                  ["graph"], registry=r)  # fmt: skip
        self.workflow_runs = Counter("orchestra_workflow_runs", "Runs ended, by the job triage chose (a workflow, or "
                                     "specialist) and status.", ["workflow", "status"], registry=r)  # fmt: skip
        self.workflow_duration = Histogram("orchestra_workflow_duration_seconds", "Runs' duration by the job triage "
                                           "chose.", ["workflow"], buckets=_DURATION_BUCKETS, registry=r)  # fmt: skip
        self.model_budget = Gauge("orchestra_server_model_budget_usd", "Model spending limit enforced, by period "
                                  "(absent: no limit).", ["period"], registry=r)  # fmt: skip
        self._started: dict[str, float] = {}

    def budgets(self, limits: dict[str, float | None]) -> None:
        """The model budgets this process enforces (the alert on a nearly spent budget divides spending by them)."""
        for period, limit in limits.items():
            if limit is not None:
                self.model_budget.labels(period).set(limit)

    def run_started(self, run: RunRecord) -> None:
        self._started[run.run_id] = time.monotonic()

    def first_event(self, run: RunRecord) -> None:
        """From the run's creation (its record's time: with Redis another process may have created it)."""
        created = dt.datetime.fromisoformat(run.created_at).timestamp()
        self.first_event_latency.labels(run.graph_id).observe(max(time.time() - created, 0.0))

    def run_finished(self, run: RunRecord, status: str, values: Any = None) -> None:
        """A run ended; when its state says which job it did (the supervisor's triage), the job is counted too."""
        self.runs.labels(run.graph_id, status).inc()
        took = None
        if (started := self._started.pop(run.run_id, None)) is not None:
            took = time.monotonic() - started
            self.duration.labels(run.graph_id).observe(took)
        triage = values.get("triage") if isinstance(values, dict) else None
        if isinstance(triage, dict) and triage:
            workflow = str(triage.get("workflow") or "specialist")
            self.workflow_runs.labels(workflow, status).inc()
            if took is not None:
                self.workflow_duration.labels(workflow).observe(took)

    def model_usage(self, run: RunRecord, usage: RunUsage) -> None:
        if not usage.calls:
            return
        self.model_calls.labels(run.graph_id).inc(usage.calls)
        self.model_tokens.labels(run.graph_id, "input").inc(usage.input_tokens)
        self.model_tokens.labels(run.graph_id, "output").inc(usage.output_tokens)
        self.model_cost.labels(run.graph_id).inc(usage.cost_usd)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
