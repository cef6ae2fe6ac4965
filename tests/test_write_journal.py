"""A thread's tool calls that change state (neither read-only nor idempotent, the gateway's rule) are announced to the
run's write journal before they are sent, so a run resumed on another server process never repeats one blindly
(`orchestra.core.writes`); a call the journal refuses never reaches the tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestra.core.writes import WriteOutcomeUnknown, journal_writes
from orchestra.tools.sessions import ThreadTools
from tests.conftest import executions, probe_pool, running_gateway


class Journal:
    def __init__(self, *, refuse: bool = False) -> None:
        self.started: list[str] = []
        self._refuse = refuse

    async def starting(self, what: str) -> None:
        self.started.append(what)
        if self._refuse:
            raise WriteOutcomeUnknown(f"{what} was started by an earlier attempt; it may or may not have run")


async def test_only_calls_that_change_state_are_journaled_and_a_refused_one_is_never_sent(tmp_path: Path) -> None:
    exec_log = tmp_path / "exec.log"
    async with running_gateway({"probe": probe_pool(exec_log)}) as (base, _):
        tools = ThreadTools(base)
        try:
            journal = Journal()
            with journal_writes(journal):
                await tools.call("ai", "probe", "lookup", {"key": "k"})  # read-only
                await tools.call("ai", "probe", "set_value", {"key": "k", "value": "v"})  # idempotent
                await tools.call("ai", "probe", "append_record", {"text": "once"})  # a write
            assert journal.started == ["probe.append_record"]
            await tools.call("ai", "probe", "append_record", {"text": "no journal"})  # outside a run: not journaled

            with journal_writes(Journal(refuse=True)), pytest.raises(WriteOutcomeUnknown):
                await tools.call("ai", "probe", "append_record", {"text": "again"})
            agents_tools = {tool.name: tool for tool in await tools.langchain_tools("ai")}
            with journal_writes(Journal(refuse=True)), pytest.raises(WriteOutcomeUnknown):
                await agents_tools["probe__append_record"].ainvoke({"text": "again"})
            assert len(executions(exec_log, "append_record")) == 2  # neither refused call reached the tool
        finally:
            await tools.aclose()
