"""One trace from a run to the upstream MCP server (issue 13, tracing): OpenTelemetry spans of the run, of the
tool call the thread's tools make, and of the gateway's call, joined by W3C trace context; the upstream receives
the same trace in its request's `traceparent` header and in `params._meta`. Spans are read with the OpenTelemetry
SDK's in-memory exporter; the gateway and the upstream (an SDK FastMCP server over streamable HTTP) are real and
run on 127.0.0.1. With LangSmith tracing on, each such call is also a tool run under the step that made it
(against a stand-in for LangSmith's API)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import langsmith
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
from tests.langsmith_stand_in import langsmith_stand_in

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


async def test_with_langsmith_tracing_each_gateway_call_is_a_tool_run_under_the_step_that_made_it() -> None:
    stand_in, kept = langsmith_stand_in()
    async with serving(stand_in) as langsmith_url, serving(traced_upstream()) as upstream:
        pools = {"traced": {"url": f"{upstream}/mcp", "tier": "bi"}}
        async with running_gateway(pools) as (gateway, _):
            client = langsmith.Client(api_url=langsmith_url, api_key="ls-test-key", auto_batch_tracing=False)
            tools = ThreadTools(gateway)
            try:
                with langsmith.tracing_context(enabled=True, client=client, project_name="orchestra-tests"):
                    async with langsmith.trace("research step", "chain", client=client) as step:
                        call = await tools.call("bi", "traced", "trace_seen", {})
            finally:
                await tools.aclose()
            await asyncio.to_thread(client.flush)
    [tool_run] = [run for run in kept["runs"] if run.get("run_type") == "tool"]
    assert tool_run["name"] == "traced.trace_seen"
    assert tool_run["parent_run_id"] == str(step.id)
    assert tool_run["extra"]["metadata"]["pool"] == "traced"
    ended = next(end for end in kept["run_ends"] if end["id"] == str(tool_run["id"]))
    assert ended["outputs"]["result"] == call.result
    assert ended["extra"]["metadata"]["duration_ms"] == call.duration_ms


async def test_langsmith_unreachable_never_fails_the_call_it_traces() -> None:
    async with serving(traced_upstream()) as upstream:
        async with running_gateway({"traced": {"url": f"{upstream}/mcp", "tier": "bi"}}) as (gateway, _):
            nowhere = langsmith.Client(api_url="http://127.0.0.1:9", api_key="k", auto_batch_tracing=False,
                                       retry_config={"total": 0})  # fmt: skip
            tools = ThreadTools(gateway)
            try:
                with langsmith.tracing_context(enabled=True, client=nowhere, project_name="orchestra-tests"):
                    call = await tools.call("bi", "traced", "trace_seen", {})
            finally:
                await tools.aclose()
    assert call.ok
