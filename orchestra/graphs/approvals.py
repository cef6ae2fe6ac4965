"""The questions a run pauses on: approvals of calls that change external state, and choices between names.

The interrupt's payload shows the exact call (pool, tool, arguments) and the JSON schema of an answer. A run is
resumed with `Command(resume=...)` carrying `"approve"`, `"reject"`, plain words ("yes please", "no, wrong page"), or
an object: `{"action": "approve"}`, `{"action": "edit", "arguments": {...}}` (the arguments to use instead),
`{"action": "reject", "reason": "..."}`. An answer that cannot be read is asked again (the new payload's `problem`
says why); after three such answers the call is rejected: a write never happens on a garbled approval.

A choice (which company, which design did the user mean) is resumed with one of its options, as a string or
`{"choice": "..."}`; an answer that names none of them chooses nothing, and the run says what it could not find.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from orchestra.graphs.progress import emit


class ApprovalDecision(BaseModel):
    """The answer to an approval request."""

    action: Literal["approve", "edit", "reject"] = Field(description="What to do with the call.")
    arguments: dict[str, Any] | None = Field(None, description="With `edit`: the arguments to call with instead.")
    reason: str | None = Field(None, description="Why (shown in the report), e.g. with `reject`.")
    by: str = Field("user", description="Who decided.")
    _unreadable: bool = PrivateAttr(False)  # the answer could not be read: ask again rather than decide

    @property
    def unreadable(self) -> bool:
        return self._unreadable


def approval_request(pool: str, tool: str, arguments: dict[str, Any], reason: str) -> dict[str, Any]:
    """The interrupt payload for one call."""
    return {
        "kind": "approval",
        "pool": pool,
        "tool": f"{pool}.{tool}",
        "arguments": arguments,
        "reason": reason,
        "allowed": ["approve", "edit", "reject"],
        "response_schema": ApprovalDecision.model_json_schema(),
    }


_YES = re.compile(r"^(?:y|yes|yep|yeah|ok|okay|sure|approve[sd]?|go ahead|do it|lgtm|ship it|confirm(?:ed)?)\b")
_NO = re.compile(r"^(?:n|no|nope|don'?t|do not|stop|cancel|reject(?:ed)?|decline[sd]?|abort)\b")


def _plain_words(text: str) -> dict[str, Any]:
    """A typed answer ("yes please", "no, wrong page") as a decision; anything else stays unreadable."""
    said = text.strip().lower()
    if _YES.match(said):
        return {"action": "approve"}
    if _NO.match(said):
        return {"action": "reject", "reason": text.strip() if len(said.split()) > 1 else None}
    return {"action": said}


def read_decision(answer: Any) -> ApprovalDecision:
    """The decision in a resume value; an unreadable answer rejects, saying why (`unreadable` is set)."""
    if isinstance(answer, str):
        answer = _plain_words(answer)
    if isinstance(answer, dict) and "action" not in answer and "type" in answer:  # LangChain's decision shape
        answer = {"action": answer["type"], "arguments": (answer.get("edited_action") or {}).get("args"),
                  "reason": answer.get("message")}  # fmt: skip
    try:
        decision = ApprovalDecision.model_validate(answer)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(map(str, problem["loc"])) or "answer"
        unread = ApprovalDecision(action="reject", reason=f"the answer could not be read ({where}: {problem['msg']})")
        unread._unreadable = True
        return unread
    if decision.action == "edit" and not decision.arguments:
        return ApprovalDecision(action="reject", reason="an edit needs `arguments`; nothing was changed")
    return decision


def ask_choice(question: str, names: list[str]) -> str | None:
    """Pause for the user to pick one of `names`; the one picked, or None when the answer names none of them."""
    payload = {
        "kind": "choice", "question": question, "options": names,
        "response_schema": {"type": "string", "enum": names, "description": "One of the options, as written."},
    }  # fmt: skip
    emit("choice", question=question, options=names)
    answer = interrupt(payload)
    text = str(answer.get("choice") if isinstance(answer, dict) else answer).strip().lower()
    if not text:
        return None
    return next((n for n in names if n.lower() == text), None) or next((n for n in names if text in n.lower()), None)


def ask_approval(request: dict[str, Any], tries: int = 3) -> ApprovalDecision:
    """Pause for a decision on `request`; an answer that cannot be read is asked again (with what was wrong), so a
    garbled reply never decides for the user; after `tries` such answers the call is rejected."""
    decision = read_decision(interrupt(request))
    for _ in range(tries - 1):
        if not decision.unreadable:
            break
        decision = read_decision(interrupt({**request, "problem": f"{decision.reason}; answer again"}))
    return decision
