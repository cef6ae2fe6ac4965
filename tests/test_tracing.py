"""One trace from a run to the upstream MCP server (issue 13, tracing): OpenTelemetry spans of the run, of the
tool call the thread's tools make, and of the gateway's call, joined by W3C trace context; the upstream receives
the same trace in its request's `traceparent` header and in `params._meta`. Spans are read with the OpenTelemetry
SDK's in-memory exporter; the gateway and the upstream (an SDK FastMCP server over streamable HTTP) are real and
run on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.fastmcp import Context, FastMCP
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from orchestra.core import tracing
from orchestra.tools.sessions import ThreadTools
from tests.conftest import running_gateway, serving

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the process's first: the API allows setting it once
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later tests' spans are dropped, not kept in memory


def traced_upstream() -> Any:
    server = FastMCP("traced", stateless_http=True)

    @server.tool()
    async def trace_seen(ctx: Context) -> dict[str, Any]:
        """What trace context this call arrived with, in its HTTP header and in its `_meta`."""
        request = ctx.request_context.request
        meta = ctx.request_context.meta
        extra = meta.model_extra if meta is not None and meta.model_extra else {}
        return {"header": request.headers.get("traceparent") if request else None, "meta": extra.get("traceparent")}

    return server.streamable_http_app()


def trace_id(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


async def test_a_run_its_tool_call_the_gateway_and_the_upstream_share_one_trace(spans: InMemorySpanExporter) -> None:
    async with serving(traced_upstream()) as upstream:
        pools = {"traced": {"url": f"{upstream}/mcp", "tier": "bi"}}
        async with running_gateway(pools) as (gateway, _):
            tools = ThreadTools(gateway)
            try:
                with tracing.tracer().start_as_current_span("run supervisor") as run:
                    call = await tools.call("bi", "traced", "trace_seen", {})
            finally:
                await tools.aclose()
    run_trace = run.get_span_context().trace_id
    assert trace_id(call.result["header"]) == run_trace  # the upstream's HTTP request carried the run's trace
    assert trace_id(call.result["meta"]) == run_trace  # and so did its params._meta
    finished = {(s.name, s.kind): s for s in spans.get_finished_spans() if s.context.trace_id == run_trace}
    client = finished[("tools/call traced.trace_seen", SpanKind.CLIENT)]
    gateway_span = finished[("tools/call traced.trace_seen", SpanKind.SERVER)]
    assert client.parent is not None
    assert client.parent.span_id == run.get_span_context().span_id
    assert gateway_span.parent is not None
    assert gateway_span.parent.span_id == client.context.span_id  # the gateway continues the caller's span
    attributes = dict(gateway_span.attributes or {})
    assert attributes["mcp.pool"] == "traced"
    assert attributes["mcp.tool"] == "trace_seen"
    assert attributes["mcp.cached"] is False
    assert str(attributes["mcp.replica"]).startswith("traced")


async def test_untraced_calls_carry_no_trace_context() -> None:
    assert tracing.carrier() == {}  # no span current: nothing to carry
    assert tracing.carried({"traceparent": 5, "other": "x"}) == {}  # only string trace fields are taken
