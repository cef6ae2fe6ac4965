"""Writes to external systems, announced before they start, so that a run taken over after its process was lost
never repeats one blindly.

With `REDIS_URL`, a run whose server process dies is resumed by another process from its last checkpoint, and
LangGraph re-runs the node that was executing from its start. A write that node had already started (a deploy, a CRM
update) may or may not have taken effect, and repeating it could do it twice. Code about to change external state
calls `before_external_write`: the journal the server installs for the run's execution records it, and on a later
execution of the same run refuses to repeat it (`WriteOutcomeUnknown`), as the gateway refuses to repeat a write that
failed mid-call (-32013). Without a journal (one process, `orchestra run`) nothing is recorded or refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class WriteOutcomeUnknown(RuntimeError):
    """A write that an earlier execution of this run started before its process was lost: it may or may not have
    taken effect, so it is not repeated."""


class WriteJournal(Protocol):
    async def starting(self, what: str) -> None:
        """Record that the current node starts the write `what`; raises `WriteOutcomeUnknown` when an earlier
        execution of the run already started it."""
        ...


_JOURNAL: ContextVar[WriteJournal | None] = ContextVar("orchestra_write_journal", default=None)


def journaling() -> bool:
    """Whether writes are journaled here (so a caller may skip working out whether a call is a write)."""
    return _JOURNAL.get() is not None


async def before_external_write(what: str) -> None:
    """Call right before a change to external state (`what` names it in the error): see the module docstring."""
    journal = _JOURNAL.get()
    if journal is not None:
        await journal.starting(what)


@contextmanager
def journal_writes(journal: WriteJournal | None) -> Iterator[None]:
    """Journal the writes of the tasks created inside the block (they copy the context) in `journal`."""
    token = _JOURNAL.set(journal)
    try:
        yield
    finally:
        _JOURNAL.reset(token)


__all__ = ["WriteJournal", "WriteOutcomeUnknown", "before_external_write", "journal_writes", "journaling"]
