"""Prometheus metrics of the gateway, named as the vision's Grafana dashboard expects (`mcp_*`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    """One registry per gateway app, so several gateways in one process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_duration = Histogram(
            "mcp_request_duration_seconds", "Tool call latency through the gateway.", ["pool", "tool"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.request_errors = Counter(
            "mcp_request_errors_total", "Failed tool calls by reason.", ["pool", "tool", "reason"], registry=r
        )
        self.server_health = Gauge(
            "mcp_server_health_status",
            "1 when a replica is in rotation, else 0.",
            ["pool", "replica"],
            registry=r,
        )
        self.replicas = Gauge("mcp_pool_replicas", "Replicas of a pool by state.", ["pool", "state"], registry=r)
        self.in_flight = Gauge("mcp_requests_in_flight", "Tool calls in flight.", ["pool"], registry=r)
        self.cache_hits = Counter("mcp_cache_hits_total", "Results served from cache.", ["pool", "tool"], registry=r)
        self.cache_misses = Counter(
            "mcp_cache_misses_total", "Cacheable calls not in cache.", ["pool", "tool"], registry=r
        )
        self.rate_limited = Counter(
            "mcp_rate_limited_total", "Calls refused by a rate limit.", ["pool", "scope"], registry=r
        )
        self.retries = Counter(
            "mcp_retries_total", "Calls retried on another replica.", ["pool", "tool", "reason"], registry=r
        )
        self.egress_refused = Counter(
            "mcp_egress_refused_total", "Requests a pool's egress proxy refused.", ["pool"], registry=r
        )
        self.restarts = Counter(
            "mcp_replica_restarts_total", "Replica (re)starts after the first.", ["pool"], registry=r
        )
