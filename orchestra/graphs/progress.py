"""Progress as LangGraph `custom` stream events: what a chat page, Studio or the CLI shows while a run works.

Every event is a dict with an `event` name (`turn`, `triage`, `tool`, `approval`, `cross_check`) and its fields; a
tool call sends `phase: start` and `phase: end` (with `ok`, `duration_ms`, and `reused` when an earlier result was
taken from the thread's ledger). Outside a streaming run the events go nowhere.
"""

from __future__ import annotations

from typing import Any

from langgraph.config import get_stream_writer


def emit(event: str, **fields: Any) -> None:
    try:
        write = get_stream_writer()
    except RuntimeError:  # called outside a graph run (a unit test of a step): nobody listens
        return
    write({"event": event, **fields})
