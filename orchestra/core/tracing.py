"""Traces: OpenTelemetry spans for runs, the tool calls they make and the gateway's calls upstream, joined into one
trace by W3C trace context. The context travels in each MCP request's `params._meta` (`traceparent`, `tracestate`,
as the OpenTelemetry conventions for MCP place it), from the server through the gateway to every upstream, and in
the `traceparent` header of the gateway's HTTP requests upstream.

Spans are exported only when the environment names an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SERVICE_NAME` names the service); otherwise the tracer does nothing and
costs nothing. LangSmith tracing (`LANGSMITH_TRACING=true` with `LANGSMITH_API_KEY`) is LangChain's own and covers
the graphs; each tool call the graphs make through the gateway is a child run of it (`orchestra.tools.sessions`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from opentelemetry import context, propagate, trace

log = logging.getLogger("orchestra.tracing")
TRACER = "orchestra"
_CARRIED = ("traceparent", "tracestate")


def configure(service: str, environ: Mapping[str, str]) -> bool:
    """Export spans over OTLP/HTTP when the environment names an endpoint; whether it does."""
    if not (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", service)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    log.info("exporting traces over OTLP as %s", environ.get("OTEL_SERVICE_NAME", service))
    return True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER)


def carrier() -> dict[str, str]:
    """The current trace context, for a request's `_meta` or headers (empty when nothing is being traced)."""
    found: dict[str, str] = {}
    propagate.inject(found)
    return {key: value for key, value in found.items() if key in _CARRIED}


def carried(meta: Any) -> dict[str, str]:
    """The trace context an incoming request's `_meta` carries (only those keys, only strings)."""
    if not isinstance(meta, Mapping):
        return {}
    return {key: str(meta[key])[:512] for key in _CARRIED if isinstance(meta.get(key), str)}


@contextmanager
def continued(meta: Any) -> Iterator[None]:
    """Make the trace context carried in `meta` the current one (a gateway call continues its caller's trace)."""
    incoming = carried(meta)
    if not incoming:
        yield
        return
    token = context.attach(propagate.extract(incoming))
    try:
        yield
    finally:
        context.detach(token)


@asynccontextmanager
async def langsmith_tool_run(name: str, inputs: dict[str, Any], metadata: dict[str, Any]) -> AsyncIterator[Any]:
    """A LangSmith tool run under the current one (the graph step's) when LangSmith tracing is on; else None.
    LangSmith being unreachable or refusing never fails the call it traces: that is logged, and the call goes on."""
    from langsmith import trace as langsmith_trace
    from langsmith.utils import tracing_is_enabled

    if not tracing_is_enabled():
        yield None
        return
    manager = langsmith_trace(name, "tool", inputs=inputs, metadata=metadata)
    try:
        run = await manager.__aenter__()
    except Exception:
        log.warning("LangSmith did not take the tool run %s", name, exc_info=True)
        yield None
        return
    try:
        yield run
    except BaseException as exc:
        await _ended(manager, name, exc)
        raise
    await _ended(manager, name, None)


async def _ended(manager: Any, name: str, error: BaseException | None) -> None:
    try:
        await manager.__aexit__(type(error) if error else None, error, error.__traceback__ if error else None)
    except Exception:
        log.warning("LangSmith did not take the end of the tool run %s", name, exc_info=True)
