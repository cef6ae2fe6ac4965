"""The tool layer of a recorded case: a thread's MCP sessions, recorded into a cassette, or answered from one.

`TapedTools` is the thread's `ThreadTools` with its sessions swapped: recording wraps the real gateway session
(every `tools/list` and `tools/call`, as sent and as answered); replaying answers both from the cassette and opens
no connection at all. Everything above the session (the workflows' calls, the specialists' LangChain tools, the
evidence ledger) runs unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from mcp import types

from orchestra.evals.cassette import Cassette, Placeholders
from orchestra.tools.sessions import ThreadTools

_NOWHERE = "http://replay.invalid"  # a replaying thread never connects; its client is never opened


class RecordedToolError(Exception):
    """A tool call that failed when it was recorded fails the same way on replay."""


def _dump(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


class TapedTools(ThreadTools):
    """A thread's tools over a cassette; `made` lists every call made (a workflow's or a specialist agent's), as
    the trajectory a case's expectations are matched against."""

    def __init__(self, cassette: Cassette, places: Placeholders, gateway: str | None, headers: dict[str, str]) -> None:
        super().__init__(gateway or _NOWHERE, headers)
        self._cassette, self._places, self._recording = cassette, places, gateway is not None
        self.made: list[dict[str, Any]] = []
        self._recorded_ms: dict[int, float] = {}  # id of a replayed answer -> how long its call took when recorded

    async def session(self, tier: str) -> Any:
        if self._recording:
            real = await super().session(tier)
            return _RecordingSession(real, self._cassette, self._places, tier, self.made, self._recorded_ms)
        return _ReplayingSession(self._cassette, self._places, tier, self.made, self._recorded_ms)

    def _took(self, started: float, answer: object) -> float:
        """A call took what its cassette says, recording and replaying alike: reports that show durations read the
        same on every replay."""
        recorded = self._recorded_ms.pop(id(answer), None)
        return super()._took(started, answer) if recorded is None else recorded


class _RecordingSession:
    def __init__(
        self, real: Any, cassette: Cassette, places: Placeholders, tier: str, made: list[Any],
        recorded_ms: dict[int, float],
    ) -> None:  # fmt: skip
        self._real, self._cassette, self._places, self._tier, self._made = real, cassette, places, tier, made
        self._recorded_ms = recorded_ms

    async def list_tools(self, cursor: str | None = None, **options: Any) -> types.ListToolsResult:
        result = await (self._real.list_tools(cursor=cursor) if cursor else self._real.list_tools())
        self._cassette.add({"kind": "tools", "tier": self._tier, "cursor": cursor,
                            "result": self._places.hide(_dump(result))})  # fmt: skip
        return result

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **options: Any) -> Any:
        pool, _, tool = name.partition("__")
        entry: dict[str, Any] = {"kind": "tool", "tier": self._tier, "pool": pool, "tool": tool,
                                 "arguments": self._places.hide(arguments or {})}  # fmt: skip
        started = time.perf_counter()
        made = {"tool": f"{pool}.{tool}", "arguments": arguments or {}, "ok": False}
        self._made.append(made)
        try:
            result = await self._real.call_tool(name, arguments, **options)
        except Exception as exc:
            entry |= {"error": self._places.hide(str(exc)), "duration_ms": _since(started)}
            self._cassette.add(entry)
            self._recorded_ms[id(exc)] = entry["duration_ms"]
            raise
        entry |= {"result": self._places.hide(_dump(result)), "duration_ms": _since(started)}
        self._cassette.add(entry)
        self._recorded_ms[id(result)] = entry["duration_ms"]
        made["ok"] = not result.isError
        return result


class _ReplayingSession:
    def __init__(
        self, cassette: Cassette, places: Placeholders, tier: str, made: list[Any], recorded_ms: dict[int, float]
    ) -> None:
        self._cassette, self._places, self._tier, self._made = cassette, places, tier, made
        self._recorded_ms = recorded_ms

    async def list_tools(self, cursor: str | None = None, **options: Any) -> types.ListToolsResult:
        key = {"tier": self._tier, "cursor": cursor}
        entry = self._cassette.answer("tools", key, f"listing the {self._tier} tools", reuse=True)
        return types.ListToolsResult.model_validate(self._places.show(entry["result"]))

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **options: Any) -> Any:
        pool, _, tool = name.partition("__")
        key = {"tier": self._tier, "pool": pool, "tool": tool, "arguments": self._places.hide(arguments or {})}
        entry = self._cassette.answer("tool", key, f"the tool call {pool}.{tool}")
        result = None if "error" in entry else types.CallToolResult.model_validate(self._places.show(entry["result"]))
        self._made.append({"tool": f"{pool}.{tool}", "arguments": arguments or {},
                           "ok": result is not None and not result.isError})  # fmt: skip
        answer: Any = RecordedToolError(self._places.show(entry["error"])) if result is None else result
        self._recorded_ms[id(answer)] = float(entry.get("duration_ms", 0.0))
        if result is None:
            raise answer
        return result


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
