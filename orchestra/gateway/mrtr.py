"""Multi round-trip requests for modern clients whose call reaches a legacy upstream that asks mid-call.

A legacy upstream asks its client (sampling, elicitation, roots) in the middle of a call and waits for the
answer; a modern client cannot be asked. So the gateway answers the client's call with `input_required`, naming
what the upstream asked, and holds the upstream call; the client's retry (the same call, with `inputResponses`
and our `requestState`) delivers the answers and waits again, for the result or the next questions.

The `requestState` handed out is a random handle to the held call, valid only for the API key that made the call
and for the same endpoint, method, name and arguments: unguessable, so it cannot be forged or edited into another
call's. A held call lives in this gateway process (the upstream is waiting on it there): a retry that reaches
another process is told so, as is one that comes after the call was let go (`HOLD_SECONDS` without a retry, or
the upstream call ended: its pool's `timeout` bounds the wait too). One API key holds at most `MAX_HELD_PER_KEY`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from orchestra.gateway.modern import INVALID_PARAMS, ModernError
from orchestra.gateway.rpc import RpcError, ServerRequest, ToolResult

log = logging.getLogger("orchestra.gateway")
HOLD_SECONDS = 300.0  # a held call waits this long for the client's retry, then is cancelled upstream
MAX_HELD = 1000  # calls held at once by one gateway process; beyond, a call that asks fails saying so
MAX_HELD_PER_KEY = 100  # ... and by one API key (or by the anonymous callers together), so that none starves others
_SETTLE = 0.05  # questions an upstream asks together go out in one input_required
_PREFIX = "orchestra-held"


@dataclass
class _Question:
    method: str
    params: dict[str, Any]
    answer: asyncio.Future[Any]


@dataclass(eq=False)
class _HeldCall:
    owner: str  # digest of the endpoint, API key, method, name and arguments: whose retry may resume it
    key_id: str | None = None
    task: asyncio.Task[Any] | None = None
    questions: dict[str, _Question] = field(default_factory=dict)
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    expires: float = 0.0


def owner_of(endpoint: str, key_id: str | None, method: str, params: dict[str, Any]) -> str:
    """Who may resume a held call: the same key, sending the same request (minus the round-trip fields) to the
    same endpoint."""
    salient = {k: v for k, v in params.items() if k not in ("_meta", "inputResponses", "requestState")}
    canonical = json.dumps([endpoint, key_id, method, salient], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class HeldCalls:
    """This process's held calls, by the `requestState` that resumes them."""

    def __init__(self) -> None:
        self._process = secrets.token_hex(4)
        self._held: dict[str, _HeldCall] = {}  # by requestState: calls waiting for their client's retry
        self._running: set[_HeldCall] = set()  # every call made here that may ask, until it ends
        self._numbers = itertools.count(1)

    def __len__(self) -> int:
        return len(self._held)

    async def call(
        self,
        run: Callable[[ServerRequest], Awaitable[Any]],
        owner: str,
        params: dict[str, Any],
        may_ask: Callable[[str, dict[str, Any]], dict[str, Any] | None],
        key_id: str | None = None,
    ) -> dict[str, Any]:
        """Run (or resume, when `params` carries our `requestState`) a call; its result, or `input_required`.

        `run(ask)` makes the upstream call with `ask` as the way to the client; `may_ask` says why a question
        cannot go to this client (a JSON-RPC error, sent to the upstream) or None when it can."""
        state = params.get("requestState")
        if not self.owns(state):  # a new call, or a modern upstream's own round trip (its state goes to it)
            held = _HeldCall(owner, key_id)
            token = f"{_PREFIX}.{self._process}.{secrets.token_urlsafe(24)}"
            held.task = asyncio.create_task(run(self._asker(held, may_ask)))
            held.task.add_done_callback(lambda task: self._ended(token, held, task))
            self._running.add(held)
        else:
            token, held = self._resume(state, owner, params.get("inputResponses"))
        return await self._next(token, held)

    @staticmethod
    def owns(state: Any) -> bool:
        """Whether a `requestState` is one of ours (any process's), not a modern upstream's."""
        return isinstance(state, str) and state.startswith(f"{_PREFIX}.")

    def _asker(self, held: _HeldCall, may_ask: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> Any:
        async def ask(method: str, params: dict[str, Any]) -> Any:
            refusal = may_ask(method, params)
            # counted as they ask, not once held: a burst of calls asking together cannot slip past the limits
            holding = set(self._held.values())  # held for a retry, even if the upstream withdrew its question
            waiting = [other for other in self._running if other is not held and (other in holding or _waiting(other))]
            mine = sum(1 for other in waiting if other.key_id == held.key_id)
            if refusal is None and not _waiting(held) and (len(waiting) >= MAX_HELD or mine >= MAX_HELD_PER_KEY):
                limit = MAX_HELD if len(waiting) >= MAX_HELD else MAX_HELD_PER_KEY
                whose = "calls" if limit == MAX_HELD else "calls of this API key"
                refusal = {"code": -32603, "message": f"the gateway already holds {limit} {whose} waiting for "
                           "their clients' input; answer or drop those first, or try again shortly"}  # fmt: skip
            if refusal is not None:
                raise RpcError(refusal)
            key = f"{method.split('/')[0]}-{next(self._numbers)}"
            question = _Question(method, params, asyncio.get_running_loop().create_future())
            held.questions[key] = question
            held.asked.set()
            return await question.answer

        return ask

    def _resume(self, state: Any, owner: str, responses: Any) -> tuple[str, _HeldCall]:
        held = self._held.get(state) if isinstance(state, str) else None
        if held is None or held.owner != owner:
            parts = state.split(".") if isinstance(state, str) else []
            if held is None and len(parts) == 3 and parts[0] == _PREFIX and parts[1] != self._process:
                why = ("requestState belongs to a call held by another gateway process: route a call's retries "
                       "to the process that answered it, or call again without requestState")  # fmt: skip
            else:
                why = (
                    "requestState is not valid for this request (unknown, altered, expired after "
                    f"{HOLD_SECONDS:g}s, or from another call); call again without requestState"
                )
            raise ModernError(INVALID_PARAMS, why)
        if responses is not None and not isinstance(responses, dict):
            raise ModernError(INVALID_PARAMS, "inputResponses must be an object: input request key -> result")
        for key, answer in (responses or {}).items():
            question = held.questions.get(key)
            if question is None or question.answer.done():
                continue  # an answer to something not asked (or already answered) is ignored, as MRTR says
            if not isinstance(answer, dict):
                raise ModernError(INVALID_PARAMS, f"inputResponses[{key[:100]!r}] must be the {question.method} result "
                                  "object")  # fmt: skip
            question.answer.set_result(answer)
            del held.questions[key]
        return state, held

    async def _next(self, token: str, held: _HeldCall) -> dict[str, Any]:
        """Wait for the call to end or ask; hold it (under `token`) when it asks."""
        assert held.task is not None
        self._held.pop(token, None)
        try:
            return await self._until_done_or_asked(token, held)
        except asyncio.CancelledError:
            if self._held.get(token) is not held:  # the client went before the call was held: nobody will retry
                held.task.cancel()
            raise

    async def _until_done_or_asked(self, token: str, held: _HeldCall) -> dict[str, Any]:
        assert held.task is not None
        while True:
            if not held.task.done() and not _waiting(held):
                held.asked.clear()
                asker = asyncio.ensure_future(held.asked.wait())
                try:
                    await asyncio.wait({held.task, asker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    asker.cancel()
                continue
            if held.task.done():
                result: ToolResult = held.task.result()  # raises the call's own error
                return result
            await asyncio.sleep(_SETTLE)
            held.expires = time.monotonic() + HOLD_SECONDS
            self._held[token] = held
            asyncio.get_running_loop().call_later(HOLD_SECONDS, self._expire, token, held)
            requests = {k: {"method": q.method, "params": q.params} for k, q in held.questions.items()}
            return {"resultType": "input_required", "inputRequests": requests, "requestState": token}

    def _ended(self, token: str, held: _HeldCall, task: asyncio.Task[Any]) -> None:
        """A held call that ends on its own (its pool's timeout, a failure) is let go at once; its outcome, which
        no retry came for, is logged only at debug level."""
        self._running.discard(held)
        if self._held.get(token) is held:
            del self._held[token]
            if not task.cancelled() and task.exception() is not None:
                log.debug("a held call ended before its client's retry: %s", task.exception())

    def _expire(self, token: str, held: _HeldCall) -> None:
        if self._held.get(token) is held and time.monotonic() >= held.expires:
            del self._held[token]
            if held.task is not None:
                held.task.cancel()

    async def close(self) -> None:
        for held in list(self._held.values()):  # each one's end takes it out of `_held`
            if held.task is not None:
                held.task.cancel()
                with contextlib.suppress(BaseException):
                    await held.task
        self._held.clear()


def _waiting(held: _HeldCall) -> bool:
    return any(not question.answer.done() for question in held.questions.values())
